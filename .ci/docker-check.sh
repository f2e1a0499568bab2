#!/usr/bin/env bash
# docker-check: the image, built and run by a real Docker engine.
#
#   1. An engine: Debian's docker.io (and docker-compose) installed when
#      missing, dockerd started when none answers (as root), stopped again
#      at the end if this script started it.
#   2. A builder image assembled here, since no image registry is reachable:
#      `docker import` of busybox-static, this machine's /usr/local/go, its CA
#      bundle and the module cache of this repository's go.sum (GOPROXY=off
#      inside), tagged mailsink-builder:local. The Dockerfile's
#      ARG GO_IMAGE takes it; the default stays the official Go image.
#   3. docker build of the Dockerfile as ghcr.io/mailsink/mailsink:latest,
#      its size measured.
#   4. docker run with every port published on 127.0.0.1: the health check
#      turns healthy, the banner names URLs a browser opens, swaks sends
#      through every published port (TLS verified against the certificate
#      the API serves) and the API holds each message; a named volume on
#      /tls keeps one CA across a restart and a new container; docker stop
#      exits 0 within the grace period.
#   5. The README's Compose recipe, as written, beside an application
#      container that sends with net/smtp.SendMail to mailsink:1025 by
#      service name.
#   6. The README's testcontainers-go recipe, as a Go test (module
#      .ci/testcontainers; the reaper is disabled with
#      TESTCONTAINERS_RYUK_DISABLED=true: its image cannot be pulled).
#
# No engine, no pass: without CI=true it says so and exits 0 (skipped); with
# CI=true it fails. Usage: .ci/docker-check.sh   (DOCKER_CHECK_KEEP=1 keeps
# the work directory)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
image=ghcr.io/mailsink/mailsink:latest # the README's name
builder=mailsink-builder:local
grace=10 # docker stop's default: SIGKILL after it

say() { echo "docker-check: $*"; }
fail() {
	echo "docker-check: FAIL: $*" >&2
	exit 1
}
t0=$SECONDS
elapsed() { echo "$((SECONDS - t0))s"; }

work=$(mktemp -d /tmp/mailsink-docker.XXXXXX)
started_dockerd="" containers=() volumes=() compose_dir=""
cleanup() {
	set +e
	if [[ -n $compose_dir ]]; then
		(cd "$compose_dir" && docker-compose -p mailsinkci down -v --remove-orphans >/dev/null 2>&1)
	fi
	for c in "${containers[@]}"; do docker rm -f "$c" >/dev/null 2>&1; done
	for v in "${volumes[@]}"; do docker volume rm -f "$v" >/dev/null 2>&1; done
	if [[ -n $started_dockerd ]]; then
		kill "$started_dockerd" 2>/dev/null
		for _ in $(seq 1 100); do kill -0 "$started_dockerd" 2>/dev/null || break; sleep 0.1; done
	fi
	if [[ -n ${DOCKER_CHECK_KEEP:-} ]]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# no_engine REASON: the engine cannot be had here.
no_engine() {
	if [[ ${CI:-} == true ]]; then
		fail "no Docker engine: $*"
	fi
	say "SKIP: no Docker engine: $* (under CI=true this fails)"
	exit 0
}

# ---------------------------------------------------------------------------
# 1. The engine.
[[ $(id -u) == 0 ]] || no_engine "starting dockerd needs root"
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v swaks >/dev/null || need+=(swaks libnet-ssleay-perl)
command -v jq >/dev/null || need+=(jq)
command -v curl >/dev/null || need+=(curl)
[[ -x /bin/busybox ]] && /bin/busybox --list | grep -qx nc || need+=(busybox-static)
if ((${#need[@]})); then
	say "installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null && apt-get install -y -qq "${need[@]}" >/dev/null; } ||
		no_engine "could not install ${need[*]}"
fi
if ! docker info >/dev/null 2>&1; then
	say "no engine answers; starting dockerd"
	setsid dockerd >"$work/dockerd.log" 2>&1 &
	started_dockerd=$!
	for _ in $(seq 1 300); do
		docker info >/dev/null 2>&1 && break
		kill -0 "$started_dockerd" 2>/dev/null || no_engine "dockerd exited: $(tail -n 5 "$work/dockerd.log")"
		sleep 0.2
	done
	docker info >/dev/null 2>&1 || no_engine "dockerd did not answer within 60s: $(tail -n 5 "$work/dockerd.log")"
fi
say "engine $(docker version -f '{{.Server.Version}} (API {{.Server.APIVersion}})') [$(elapsed)]"

# ---------------------------------------------------------------------------
# 2. The builder image. Its label says what went in: rebuilt when the Go
# toolchain or go.sum changes.
go_root=$(go env GOROOT)
go_version=$(go env GOVERSION)
want_label="$go_version $(sha256sum "$repo/go.sum" | cut -c1-16)"
if [[ $(docker image inspect -f '{{index .Config.Labels "mailsink.builder"}}' "$builder" 2>/dev/null) != "$want_label" ]]; then
	root=$work/builder
	mkdir -p "$root"/{bin,etc/ssl/certs,tmp,root,usr/local,go/pkg/mod}
	chmod 1777 "$root/tmp"
	cp /bin/busybox "$root/bin/busybox"
	for applet in $(/bin/busybox --list); do
		[[ $applet == busybox ]] || ln -s busybox "$root/bin/$applet"
	done
	cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
	# The modules go.sum names, from this machine's cache (downloaded into it
	# from the Go proxy if missing there): the build stage runs offline.
	(cd "$repo" && go mod download) || fail "go mod download"
	host_cache=$(go env GOMODCACHE)
	(cd "$repo" && GOMODCACHE=$root/go/pkg/mod GOPROXY="file://$host_cache/cache/download" GOSUMDB=off go mod download) ||
		fail "copying the module cache"
	tar -C "$root" -cf "$work/builder.tar" . -C "$(dirname "$go_root")" --transform "s,^$(basename "$go_root"),usr/local/go," "$(basename "$go_root")"
	docker import \
		--change 'ENV PATH=/usr/local/go/bin:/bin' \
		--change 'ENV HOME=/root GOPATH=/go GOMODCACHE=/go/pkg/mod GOTOOLCHAIN=local GOPROXY=off' \
		--change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
		--change "LABEL mailsink.builder=\"$want_label\"" \
		--change 'CMD ["/bin/sh"]' \
		"$work/builder.tar" "$builder" >/dev/null || fail "docker import of the builder image"
	rm -f "$work/builder.tar"
	say "builder image $builder: busybox, $go_version, the module cache [$(elapsed)]"
else
	say "builder image $builder is current ($want_label)"
fi

# ---------------------------------------------------------------------------
# 3. The build.
b0=$SECONDS
docker build --build-arg "GO_IMAGE=$builder" -t "$image" "$repo" >"$work/build.log" 2>&1 ||
	fail "docker build:"$'\n'"$(tail -n 30 "$work/build.log")"
size=$(docker image inspect -f '{{.Size}}' "$image")
say "built $image in $((SECONDS - b0))s: $size bytes ($((size / 1000 / 1000)) MB) [$(elapsed)]"
# The README gives the size as "The image is N MB": it must stay true (to
# within 1 MB).
readme_mb=$(sed -n 's/.*The image is \([0-9.]*\) MB.*/\1/p' "$repo/README.md" | head -n 1)
[[ -n $readme_mb ]] || fail "the README gives no image size (\"The image is N MB\")"
awk -v r="$readme_mb" -v s="$size" 'BEGIN { d = r - s / 1e6; exit !(d < 1 && d > -1) }' ||
	fail "the image is $size bytes; the README says $readme_mb MB: update it"

# wait_healthy NAME: until the engine's health check says healthy.
wait_healthy() {
	local status=""
	for _ in $(seq 1 300); do
		status=$(docker inspect -f '{{.State.Health.Status}}' "$1" 2>/dev/null || echo gone)
		case $status in
		healthy) return 0 ;;
		unhealthy | gone) break ;;
		esac
		sleep 0.1
	done
	fail "container $1 is $status, not healthy:"$'\n'"$(docker logs "$1" 2>&1 | tail -n 20)"
}

# hostport NAME PORT: the 127.0.0.1 port the engine published PORT on.
hostport() {
	docker port "$1" "$2/tcp" | sed -n 's/^127\.0\.0\.1://p' | head -n 1
}

# ---------------------------------------------------------------------------
# 4. The image, run.
name=mailsink-ci-$$
containers+=("$name")
publish=()
for p in $(docker image inspect -f '{{range $p, $_ := .Config.ExposedPorts}}{{$p}} {{end}}' "$image"); do
	publish+=(-p "127.0.0.1::${p%/tcp}")
done
r0=$SECONDS
docker run -d --name "$name" "${publish[@]}" "$image" >/dev/null || fail "docker run"
wait_healthy "$name"
say "container healthy $((SECONDS - r0))s after docker run"
logs=$(docker logs "$name" 2>&1)
grep -q 'Web inbox and API: http://localhost:8025/' <<<"$logs" || fail "the banner names no URL a browser opens:"$'\n'"$logs"
grep -q 'In a container' <<<"$logs" || fail "the banner does not say it runs in a container:"$'\n'"$logs"
! grep -q '0\.0\.0\.0:' <<<"$logs" || fail "the banner names 0.0.0.0:"$'\n'"$logs"

api=http://127.0.0.1:$(hostport "$name" 8025)
curl -fsS --max-time 5 "$api/api/v1/tls/certificate" -o "$work/ca.pem" || fail "GET /api/v1/tls/certificate"
declare -A sent=()
for p in 1025 25 587 465 2525; do
	hp=$(hostport "$name" "$p")
	[[ -n $hp ]] || fail "port $p is not published"
	args=(--server 127.0.0.1 --port "$hp" --timeout 10 --from app@example.test --to "port$p@example.test"
		--header "Subject: docker-check $p" --body "sent by .ci/docker-check.sh")
	case $p in
	1025) ;;
	25) args+=(--tls --tls-verify --tls-ca-path "$work/ca.pem") ;;
	587) args+=(--tls --tls-verify --tls-ca-path "$work/ca.pem" --auth PLAIN --auth-user app --auth-password x) ;;
	465) args+=(--tlsc --tls-verify --tls-ca-path "$work/ca.pem" --auth LOGIN --auth-user app --auth-password x) ;;
	2525) args+=(--tls --tls-verify --tls-ca-path "$work/ca.pem" --auth PLAIN --auth-user app --auth-password x) ;;
	esac
	swaks "${args[@]}" >"$work/swaks-$p.log" 2>&1 ||
		fail "swaks to published port $p (127.0.0.1:$hp):"$'\n'"$(tail -n 15 "$work/swaks-$p.log")"
	sent[$p]=$hp
done
got=$(curl -fsS --max-time 5 "$api/api/v1/messages" | jq -r '.messages[] | "\(.Delivery.Port):\(.Envelope.To[0])"' | sort -n | tr '\n' ' ')
want="25:port25@example.test 465:port465@example.test 587:port587@example.test 1025:port1025@example.test 2525:port2525@example.test "
[[ $got == "$want" ]] || fail "the API holds [$got], want [$want]"
say "swaks sent through every published port (${!sent[*]}; TLS verified); the API holds each [$(elapsed)]"

s0=$EPOCHREALTIME
docker stop -t "$grace" "$name" >/dev/null || fail "docker stop"
took=$(awk -v a="$s0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
code=$(docker inspect -f '{{.State.ExitCode}}' "$name")
[[ $code == 0 ]] || fail "after docker stop the container exited $code:"$'\n'"$(docker logs "$name" 2>&1 | tail -n 5)"
awk -v t="$took" -v g="$grace" 'BEGIN { exit !(t < g) }' ||
	fail "docker stop took ${took}s: SIGTERM did not end mailsink within the ${grace}s grace period"
grep -q 'shutting down' <<<"$(docker logs "$name" 2>&1)" || fail "mailsink did not log its shutdown: was it killed?"
say "docker stop: exit 0 after ${took}s (grace ${grace}s)"

# One certificate across a restart and a new container: a named volume on /tls.
vol=mailsink-ci-tls-$$
volumes+=("$vol")
cert_of() { curl -fsS --max-time 5 "http://127.0.0.1:$(hostport "$1" 8025)/api/v1/tls/certificate"; }
tls1=$name-tls1 tls2=$name-tls2
containers+=("$tls1" "$tls2")
docker run -d --name "$tls1" -p 127.0.0.1::8025 -p 127.0.0.1::587 -e MAILSINK_TLS_DIR=/tls -v "$vol:/tls" "$image" >/dev/null
wait_healthy "$tls1"
first=$(cert_of "$tls1")
docker restart -t "$grace" "$tls1" >/dev/null
wait_healthy "$tls1"
[[ $(cert_of "$tls1") == "$first" ]] || fail "MAILSINK_TLS_DIR on a volume: another certificate after docker restart"
docker rm -f "$tls1" >/dev/null
docker run -d --name "$tls2" -p 127.0.0.1::8025 -p 127.0.0.1::587 -e MAILSINK_TLS_DIR=/tls -v "$vol:/tls" "$image" >/dev/null
wait_healthy "$tls2"
[[ $(cert_of "$tls2") == "$first" ]] || fail "MAILSINK_TLS_DIR on a volume: another certificate in a new container"
printf '%s\n' "$first" >"$work/kept.pem"
swaks --server 127.0.0.1 --port "$(hostport "$tls2" 587)" --timeout 10 --tls --tls-verify --tls-ca-path "$work/kept.pem" \
	--auth PLAIN --auth-user app --auth-password x --to kept@example.test >"$work/swaks-kept.log" 2>&1 ||
	fail "587 of a new container does not verify against the kept CA:"$'\n'"$(tail -n 15 "$work/swaks-kept.log")"
docker rm -f "$tls2" >/dev/null
say "MAILSINK_TLS_DIR on a named volume: one CA across docker restart and a new container [$(elapsed)]"

# ---------------------------------------------------------------------------
# 5. The README's Compose recipe, as written.
compose_dir=$work/compose
mkdir -p "$compose_dir"
awk '/^### Beside your application \(Docker Compose\)/ { in_s = 1; next }
	in_s && /^### / { exit }
	in_s && /^```yaml$/ { in_b = 1; next }
	in_b && /^```$/ { exit }
	in_b { print }' "$repo/README.md" >"$compose_dir/docker-compose.yml"
grep -q "image: $image" "$compose_dir/docker-compose.yml" || fail "no Compose recipe found in the README"
# The application: net/smtp.SendMail to $SMTP_HOST:$SMTP_PORT, host and port alone.
cat >"$compose_dir/main.go" <<'EOF'
package main

import (
	"log"
	"net"
	"net/smtp"
	"os"
)

func main() {
	addr := net.JoinHostPort(os.Getenv("SMTP_HOST"), os.Getenv("SMTP_PORT"))
	msg := "From: app@example.test\r\nTo: compose@example.test\r\nSubject: sent by service name\r\n\r\nfrom the app container\r\n"
	if err := smtp.SendMail(addr, nil, "app@example.test", []string{"compose@example.test"}, []byte(msg)); err != nil {
		log.Fatal(err)
	}
	log.Printf("sent to %s", addr)
}
EOF
cat >"$compose_dir/Dockerfile" <<EOF
FROM $builder
WORKDIR /app
COPY main.go .
RUN go mod init app && go build -o /app/send .
CMD ["/app/send"]
EOF
if curl -s --max-time 2 -o /dev/null http://127.0.0.1:8025/; then
	fail "127.0.0.1:8025 is taken on this machine; the Compose recipe publishes it"
fi
(cd "$compose_dir" && docker-compose -p mailsinkci up -d --build >"$work/compose-up.log" 2>&1) ||
	fail "docker-compose up:"$'\n'"$(tail -n 20 "$work/compose-up.log")"
app=$(cd "$compose_dir" && docker-compose -p mailsinkci ps -q app)
[[ -n $app ]] || fail "docker-compose started no app container"
app_code=$(timeout 120 docker wait "$app") || fail "the app container did not finish"
[[ $app_code == 0 ]] || fail "the app container exited $app_code:"$'\n'"$(docker logs "$app" 2>&1 | tail -n 10)"
got=$(curl -fsS --max-time 5 'http://127.0.0.1:8025/api/v1/search?query=to:compose@example.test' |
	jq -r '.messages[0] | "\(.Subject) \(.Delivery.Port)"')
[[ $got == "sent by service name 1025" ]] || fail "the Compose recipe's inbox holds [$got], want the app's message on 1025"
(cd "$compose_dir" && docker-compose -p mailsinkci down -v >/dev/null 2>&1)
compose_dir=""
say "the README's Compose recipe: the app sent to mailsink:1025 by service name, after service_healthy; the API on 127.0.0.1:8025 holds it [$(elapsed)]"

# ---------------------------------------------------------------------------
# 6. The README's testcontainers-go recipe, as a Go test.
tc=$work/testcontainers
cp -r "$repo/.ci/testcontainers" "$tc"
awk '/^### testcontainers-go/ { in_s = 1; next }
	in_s && /^### / { exit }
	in_s && /^```go$/ { in_b = 1; next }
	in_b && /^```$/ { exit }
	in_b { print }' "$repo/README.md" >"$tc/readme_recipe_test.go"
grep -q 'func startMailsink' "$tc/readme_recipe_test.go" || fail "no testcontainers-go recipe found in the README"
# Where this script itself runs in a container (/.dockerenv), testcontainers
# takes the default gateway for the engine's host; the engine here is local.
override=()
[[ -e /.dockerenv && -z ${TESTCONTAINERS_HOST_OVERRIDE:-} ]] && override=(TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1)
(cd "$tc" && env "${override[@]}" TESTCONTAINERS_RYUK_DISABLED=true go test -count=1 -v ./... >"$work/testcontainers.log" 2>&1) ||
	fail "the testcontainers-go recipe:"$'\n'"$(tail -n 30 "$work/testcontainers.log")"
grep -E '^(--- |ok|PASS)' "$work/testcontainers.log" | sed 's/^/docker-check:   /'
say "the README's testcontainers-go recipe ran as a Go test (TESTCONTAINERS_RYUK_DISABLED=true) [$(elapsed)]"

say "PASS: built $image ($size bytes) with $builder, healthy, every published port took mail, docker stop exit 0 in ${took}s, Compose and testcontainers-go recipes as written [$(elapsed)]"
