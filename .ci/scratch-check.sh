#!/usr/bin/env bash
# scratch-check: build mailsink with the Dockerfile's own build command and
# run it the way the scratch image would, without Docker:
#
#   - the facts come from the Dockerfile itself, parsed by BuildKit's parser in
#     cmd/mailsink/dockerfile_test.go (TestDockerfileScratchPlan);
#   - the build is the RUN line's text, run by sh in the repository root (the
#     build stage's `COPY . .`), its -o directory bound to a temporary one in a
#     private mount namespace;
#   - the root is an empty directory holding only what the final stage COPYs;
#   - the process gets only the Dockerfile's ENV (env -i), its USER through
#     chroot --userspec, no capabilities, and a fresh network namespace with
#     only loopback, where net.ipv4.ip_unprivileged_port_start=0 is set as
#     Docker sets it. The host's sysctl is untouched.
#
# Then: the HEALTHCHECK command passes in the same root, and one message per
# SMTP listener, sent with the TLS and AUTH that listener expects, is in the
# API. A second run without the sysctl (rootless podman, some Kubernetes)
# checks the fallback ports (25 -> 10025 and so on, from the plan). Needs
# root (namespaces, chroot).
#
# .ci/docker-check.sh runs the real image in a real engine; this script
# stays for what an engine hides: the process's ids and capabilities, the
# rootless fallback, and a run on a machine where no engine starts.
#
# Usage: .ci/scratch-check.sh            (exit 0 and a PASS line, or a FAIL line)
#        SCRATCH_CHECK_KEEP=1 .ci/scratch-check.sh   keeps the work directory
#        (plan, build log, server and client logs) for a look afterwards
set -euo pipefail

max_binary_bytes=$((20 * 1024 * 1024))
ready_seconds=5

say() { echo "scratch-check: $*"; }
fail() {
	echo "scratch-check: FAIL: $*" >&2
	exit 1
}

# read_plan FILE: the Dockerfile's facts, one "key<TAB>value..." a line.
read_plan() {
	build_env=() build_steps=() copies=() env=() expose=() entrypoint=() healthcheck=() listeners=()
	build_cmd="" build_out="" user="" workdir="" http_port="" listeners_chosen=""
	local key a b c d
	while IFS=$'\t' read -r key a b c d; do
		case $key in
		build_env) build_env+=("$a") ;;
		build_cmd) build_cmd=$a ;;
		build_step) build_steps+=("$a") ;;
		build_out) build_out=$a ;;
		copy) copies+=("$a"$'\t'"$b"$'\t'"$c") ;;
		user) user=$a ;;
		workdir) workdir=$a ;;
		env) env+=("$a") ;;
		expose) expose+=("$a") ;;
		entrypoint) entrypoint+=("$a") ;;
		healthcheck) healthcheck+=("$a") ;;
		http_port) http_port=$a ;;
		listener) listeners+=("$a $b $c $d") ;;
		listeners_chosen) listeners_chosen=$a ;;
		*) fail "plan: unknown key $key" ;;
		esac
	done <"$1"
	[[ -n $build_cmd && -n $build_out && -n $user && ${#entrypoint[@]} -gt 0 && ${#healthcheck[@]} -gt 0 && -n $http_port ]] ||
		fail "plan $1 is incomplete"
}

# in_image CMD...: run CMD inside the root as the image runs its processes.
in_image() {
	env -i "${env[@]}" "$chroot_bin" --userspec="$user" "$root" "$@"
}

# server_log_tail: the last lines mailsink logged, for failure messages.
server_log_tail() { tail -n 20 "$run/server.log" 2>/dev/null | sed 's/^/    | /'; }

# ---------------------------------------------------------------------------
# Inside the fresh network, PID and mount namespaces (see the end of the file).
# $1 = work dir, $2 = "docker" (sysctl set) or "rootless" (sysctl left at 1024).
inside() {
	work=$1 mode=$2
	read_plan "$work/plan"
	root=$work/root run=$work/$mode
	mkdir -p "$run"
	chroot_bin=$(command -v chroot)

	ip link set lo up
	if [[ $mode == docker ]]; then
		sysctl -q -w net.ipv4.ip_unprivileged_port_start=0
	fi
	say "[$mode] net.ipv4.ip_unprivileged_port_start=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start) in a fresh network namespace"

	# Not through in_image: $! must be the process that becomes mailsink.
	env -i "${env[@]}" "$chroot_bin" --userspec="$user" "$root" "${entrypoint[@]}" >"$run/server.log" 2>&1 &
	local pid=$!

	# Bounded wait: the HEALTHCHECK command, in the root, until it passes.
	local deadline=$((SECONDS + ready_seconds)) healthy=""
	while ((SECONDS < deadline)); do
		kill -0 "$pid" 2>/dev/null || fail "[$mode] mailsink exited before it was healthy:"$'\n'"$(server_log_tail)"
		if in_image "${healthcheck[@]}" >"$run/health.log" 2>&1; then
			healthy=1
			break
		fi
		sleep 0.1
	done
	[[ -n $healthy ]] || fail "[$mode] HEALTHCHECK (${healthcheck[*]}) did not pass within ${ready_seconds}s: $(cat "$run/health.log")"$'\n'"$(server_log_tail)"
	say "[$mode] HEALTHCHECK ${healthcheck[*]} passed in the root as $user"

	# The process is what Docker would run: the image's user, no capabilities,
	# no supplementary groups but its own.
	local uid=${user%%:*} gid=${user#*:} status
	status=$(cat "/proc/$pid/status")
	grep -Eq "^Uid:\s+$uid\s+$uid\s+$uid\s+$uid$" <<<"$status" || fail "[$mode] process uid is not $uid: $(grep ^Uid <<<"$status")"
	grep -Eq "^Gid:\s+$gid\s+$gid\s+$gid\s+$gid$" <<<"$status" || fail "[$mode] process gid is not $gid: $(grep ^Gid <<<"$status")"
	grep -Eq "^Groups:\s*($gid\s*)?$" <<<"$status" || fail "[$mode] process has supplementary groups: $(grep ^Groups <<<"$status")"
	grep -q "^CapEff:\s*0*$" <<<"$status" || fail "[$mode] process has capabilities: $(grep ^CapEff <<<"$status")"

	local api=http://127.0.0.1:$http_port
	curl -fsS --max-time 5 "$api/api/v1/tls/certificate" -o "$run/ca.pem" ||
		fail "[$mode] GET /api/v1/tls/certificate failed"
	openssl x509 -in "$run/ca.pem" -noout -checkip 127.0.0.1 | grep -q 'does match' ||
		fail "[$mode] the certificate from /api/v1/tls/certificate does not name 127.0.0.1"

	# One message per listener, each the way that port expects it; and the
	# certificate each TLS port serves is the one the API hands out (this
	# swaks cannot verify, so openssl does).
	local want=() l port tls auth fallback args verify
	for l in "${listeners[@]}"; do
		read -r port tls auth fallback <<<"$l"
		if [[ $mode == rootless ]]; then
			port=$fallback
		fi
		args=(--server 127.0.0.1 --port "$port" --timeout 5
			--from "sender@example.test" --to "port$port@example.test"
			--header "Subject: scratch-check $mode $port" --body "sent by .ci/scratch-check.sh")
		verify=(openssl s_client -connect "127.0.0.1:$port" -CAfile "$run/ca.pem" -verify_return_error -verify_ip 127.0.0.1 -brief)
		case $tls in
		none) verify=() ;;
		starttls | starttls-required) args+=(--tls) verify+=(-starttls smtp) ;;
		implicit) args+=(--tlsc) ;;
		*) fail "listener $l: unknown TLS mode" ;;
		esac
		if ((${#verify[@]})) && ! timeout 5 "${verify[@]}" </dev/null >"$run/tls-$port.log" 2>&1; then
			fail "[$mode] port $port does not serve the certificate from /api/v1/tls/certificate:"$'\n'"$(sed 's/^/    | /' "$run/tls-$port.log")"
		fi
		case $auth in
		off | optional) ;;
		required) args+=(--auth PLAIN --auth-user "anyone" --auth-password "anything") ;;
		*) fail "listener $l: auth mode $auth needs credentials this script does not have" ;;
		esac
		swaks "${args[@]}" >"$run/swaks-$port.log" 2>&1 ||
			fail "[$mode] sending to port $port ($tls, auth $auth) failed:"$'\n'"$(tail -n 15 "$run/swaks-$port.log" | sed 's/^/    | /')"$'\n'"$(server_log_tail)"
		want+=("$port")
		say "[$mode] port $port: sent with TLS $tls${verify:+ (certificate verified)}, auth $auth"
	done

	# starttls-required means it: MAIL before STARTTLS must be refused.
	for l in "${listeners[@]}"; do
		read -r port tls auth fallback <<<"$l"
		[[ $tls == starttls-required ]] || continue
		[[ $mode == rootless ]] && port=$fallback
		if swaks --server 127.0.0.1 --port "$port" --timeout 5 --from a@example.test --to b@example.test \
			--quit-after MAIL >"$run/swaks-$port-plain.log" 2>&1; then
			fail "[$mode] port $port accepted MAIL without STARTTLS"
		fi
	done

	local got want_sorted
	got=$(curl -fsS --max-time 5 "$api/api/v1/messages" | jq -r '[.messages[].Delivery.Port | tonumber] | sort | map(tostring) | join(" ")') ||
		fail "[$mode] GET /api/v1/messages failed or is not the expected JSON"
	want_sorted=$(printf '%s\n' "${want[@]}" | sort -n | tr '\n' ' ' | sed 's/ $//')
	[[ $got == "$want_sorted" ]] || fail "[$mode] /api/v1/messages has Delivery.Port [$got], want [$want_sorted]"
	say "[$mode] /api/v1/messages holds one message per port: $got"

	kill "$pid"
	wait "$pid" 2>/dev/null || true
}

# ---------------------------------------------------------------------------
if [[ ${1:-} == --inside ]]; then
	inside "$2" "$3"
	exit 0
fi

[[ $(id -u) == 0 ]] || fail "must run as root (namespaces, chroot)"
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
self=$repo/.ci/scratch-check.sh

missing=()
for tool in swaks jq curl openssl readelf unshare chroot ip sysctl timeout; do
	command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
	say "installing the missing ${missing[*]}"
	pkgs=(swaks libnet-ssleay-perl jq curl openssl binutils util-linux coreutils iproute2 procps)
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null; } ||
		fail "could not install ${pkgs[*]}"
fi

work=$(mktemp -d /tmp/mailsink-scratch.XXXXXX)
made_dir=""
cleanup() {
	if [[ -n ${SCRATCH_CHECK_KEEP:-} ]]; then
		say "kept $work"
	else
		rm -rf "$work"
	fi
	if [[ -n $made_dir ]]; then rmdir "$made_dir" 2>/dev/null || true; fi
}
trap cleanup EXIT

# 1. The Dockerfile's facts, from its parser.
(cd "$repo" && MAILSINK_SCRATCH_PLAN=$work/plan go test -count=1 -run '^TestDockerfileScratchPlan$' ./cmd/mailsink) \
	>"$work/plan.log" 2>&1 || fail "reading the Dockerfile:"$'\n'"$(cat "$work/plan.log")"
read_plan "$work/plan"
[[ $workdir == / ]] || fail "final stage WORKDIR $workdir: chroot starts in /, so only / is mirrored"

# 2. The build stage's RUN line, as written, in the repository root. Its -o
# directory is bound to $work/out in a private mount namespace; if the
# directory does not exist on this machine, an empty one stands in while the
# script runs.
out_dir=$(dirname "$build_out")
if [[ ! -d $out_dir ]]; then
	mkdir "$out_dir" || fail "cannot make $out_dir to mount the build output on"
	made_dir=$out_dir
fi
mkdir "$work/out"
((${#build_steps[@]})) || fail "plan has no build_step"
say "build: $build_cmd"
steps=""
for step in "${build_steps[@]}"; do steps+="$step"$'\n'; done
unshare --mount --propagation private -- bash -c '
	set -e
	mount --bind "$1" "$2"
	cd "$3"
	shift 3
	exec env "$@"' _ "$work/out" "$out_dir" "$repo" "${build_env[@]}" sh -ec "$steps" >"$work/build.log" 2>&1 ||
	fail "the Dockerfile's build steps failed:"$'\n'"$(cat "$work/build.log")"
built=$work/out/${build_out#"$out_dir"/}
[[ -x $built ]] || fail "the build did not produce $build_out"

# The binary is what the test of the Dockerfile promised: static, trimmed,
# stripped (-trimpath leaves -ldflags out of the build info, so the ELF
# sections tell whether -s -w took).
settings=$(go version -m "$built") || fail "go version -m $build_out failed"
for want in 'CGO_ENABLED=0' '-trimpath=true'; do
	grep -qF -- "$want" <<<"$settings" || fail "$build_out was not built with $want:"$'\n'"$settings"
done
if readelf -S -W "$built" | grep -Eq '\.(symtab|z?debug_)'; then
	fail "$build_out has a symbol table or DWARF: was it built with -ldflags=\"-s -w\"?"
fi
size=$(stat -c %s "$built")
((size < max_binary_bytes)) || fail "binary is $size bytes, over the $max_binary_bytes budget"
say "binary $build_out: $size bytes ($((size / 1024 / 1024)) MiB; the scratch image is this file alone)"

# 3. The root: an empty directory and what the final stage COPYs, owned by
# root as COPY leaves it.
root=$work/root
mkdir -m 755 "$root"
for c in "${copies[@]}"; do
	IFS=$'\t' read -r src dst owner <<<"$c"
	[[ $src == "$out_dir"/* ]] || fail "COPY $src: only files under the build's $out_dir are mirrored"
	[[ $dst == */ ]] && dst=$dst$(basename "$src")
	mkdir -p "$root$(dirname "$dst")"
	cp -a "$work/out/${src#"$out_dir"/}" "$root$dst"
	chown -R "$owner" "$root$dst"
done
say "root holds: $(cd "$root" && find . -mindepth 1 | sed 's|^\.||' | tr '\n' ' ')"

# 4. Run it, as Docker does and as rootless runtimes do.
unshare --net --pid --mount --mount-proc --fork --kill-child -- bash "$self" --inside "$work" docker
if [[ $listeners_chosen == false ]]; then
	unshare --net --pid --mount --mount-proc --fork --kill-child -- bash "$self" --inside "$work" rootless
fi

say "PASS: built with the Dockerfile's command ($size bytes), ran from an empty root as $user with only ENV ${env[*]}; healthcheck and ports ${expose[*]} checked"
