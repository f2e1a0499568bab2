#!/usr/bin/env bash
# Puts mailsink side by side with Mailpit, Inbucket and a bare go-smtp server
# that discards every message (the practical limit), on this machine, over
# loopback, with cmd/mailsink-bench. Each sink runs alone, in turns, for
# ROUNDS rounds; the table shows medians and mailsink's ratio to each peer.
#
#   .ci/compare.sh                 # about 2-4 minutes on 2 cores once peers are installed
#   ROUNDS=1 FILL=2000 .ci/compare.sh
#
# Phases, each against a freshly started sink (sink CPU time from
# /proc/PID/stat, memory from /proc/PID/status):
#   tput     16 connections × 50 messages of ~5.4 KB; then, same process,
#   latency  LATENCY_N messages over one connection: 250 -> visible in the API
#            (mailsink: its wait endpoint, asked before sending; the peers:
#            their list polled after the 250)
#   fill     FILL messages over 16 connections: CPU per message, resident
#            memory per stored message; then every message is fetched back
#            and compared by SHA-256 (-check)
#   attach   4 connections × ATTACH_PER messages with a 1 MiB attachment:
#            MB/s and peak RSS
#
# Peers are installed with `go install` at pinned versions into PEER_CACHE
# (reused by later runs); a peer that cannot be installed or started is
# skipped with the reason, not a failure. Numbers from one machine are noisy:
# compare only within one run, on a machine doing nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
FILL=${FILL:-10000}
LATENCY_N=${LATENCY_N:-200}
ATTACH_PER=${ATTACH_PER:-24}
PORT_BASE=${PORT_BASE:-42500}
PEER_CACHE=${PEER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mailsink-bench}
INSTALL_TIMEOUT=${INSTALL_TIMEOUT:-300}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-120} # per load run: a hung sink cannot stall the script
SINKS=${SINKS:-mailsink mailpit inbucket discard}

MAILPIT_MODULE=github.com/axllent/mailpit
MAILPIT_VERSION=v1.33.1
INBUCKET_MODULE=github.com/inbucket/inbucket/v3/cmd/inbucket
INBUCKET_VERSION=v3.2.0

SMTP_PORT=$PORT_BASE
HTTP_PORT=$((PORT_BASE + 1))
POP3_PORT=$((PORT_BASE + 2))
API=http://127.0.0.1:$HTTP_PORT

started=$SECONDS
work=$(mktemp -d "${TMPDIR:-/tmp}/mailsink-compare.XXXXXX")
results=$work/results.jsonl
sink_pid=
cleanup() {
	if [ -n "$sink_pid" ]; then
		kill "$sink_pid" 2>/dev/null || true
		wait "$sink_pid" 2>/dev/null || true
	fi
	if [ -n "${KEEP:-}" ]; then
		echo "compare: results and logs kept in $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "compare: $*" >&2; }

# port_open PORT: whether something accepts connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------- binaries
say "building mailsink and mailsink-bench"
go build -o "$work/mailsink" ./cmd/mailsink
go build -o "$work/mailsink-bench" ./cmd/mailsink-bench
bench=$work/mailsink-bench

# install_peer NAME MODULE VERSION: prints the binary's path, or nothing
# (and the reason on stderr) when go install fails.
install_peer() {
	local name=$1 module=$2 version=$3
	local bin=$PEER_CACHE/$name-$version
	if [ -x "$bin" ]; then
		echo "$bin"
		return
	fi
	mkdir -p "$PEER_CACHE"
	say "installing $name: go install $module@$version (up to ${INSTALL_TIMEOUT}s)"
	local gobin=$work/gobin-$name log=$work/install-$name.log
	if GOBIN=$gobin timeout "$INSTALL_TIMEOUT" go install "$module@$version" >"$log" 2>&1 &&
		[ -x "$gobin/$name" ]; then
		mv "$gobin/$name" "$bin"
		echo "$bin"
		return
	fi
	say "SKIPPING $name: 'go install $module@$version' failed (exit or timeout after ${INSTALL_TIMEOUT}s); its last lines:"
	tail -n 8 "$log" | sed 's/^/    /' >&2
}

declare -A bin=([mailsink]=$work/mailsink [discard]=$bench)
for s in $SINKS; do
	case $s in
	mailpit) bin[mailpit]=$(install_peer mailpit "$MAILPIT_MODULE" "$MAILPIT_VERSION") ;;
	inbucket) bin[inbucket]=$(install_peer inbucket "$INBUCKET_MODULE" "$INBUCKET_VERSION") ;;
	esac
done

# ---------------------------------------------------------------- sinks
# start_sink NAME: runs the sink on the loopback ports, sets sink_pid, waits
# until it accepts SMTP and (if it has one) HTTP connections.
start_sink() {
	local name=$1 log=$work/$1.log
	for p in "$SMTP_PORT" "$HTTP_PORT"; do
		if port_open "$p"; then
			say "port $p is taken by something else; set PORT_BASE"
			exit 1
		fi
	done
	case $name in
	mailsink)
		"${bin[mailsink]}" --smtp "$SMTP_PORT:none:off" --http "$HTTP_PORT" \
			--max-messages 1000000 --max-store-size 8G >>"$log" 2>&1 &
		;;
	mailpit)
		# --max 0: keep everything (its default prunes beyond 500); rDNS off
		# so loopback lookups are not measured. Its database is an SQLite
		# file in TMPDIR (not in its RSS), removed with the work directory.
		mkdir -p "$work/mailpit-tmp"
		TMPDIR=$work/mailpit-tmp "${bin[mailpit]}" --smtp "127.0.0.1:$SMTP_PORT" --listen "127.0.0.1:$HTTP_PORT" \
			--max 0 --smtp-auth-accept-any --smtp-auth-allow-insecure --smtp-disable-rdns \
			--disable-version-check --quiet >>"$log" 2>&1 &
		;;
	inbucket)
		# In-memory store (its default). go install builds no web UI
		# (ui/dist is made by npm), so Inbucket logs that it has no
		# index.html; SMTP and the REST API work all the same.
		(cd "$work" && exec env INBUCKET_SMTP_ADDR="127.0.0.1:$SMTP_PORT" INBUCKET_WEB_ADDR="127.0.0.1:$HTTP_PORT" \
			INBUCKET_POP3_ADDR="127.0.0.1:$POP3_PORT" INBUCKET_STORAGE_TYPE=memory INBUCKET_LOGLEVEL=warn \
			"${bin[inbucket]}") >>"$log" 2>&1 &
		;;
	discard)
		"$bench" -serve-discard "127.0.0.1:$SMTP_PORT" >>"$log" 2>&1 &
		;;
	esac
	sink_pid=$!
	local ports=$SMTP_PORT
	[ "$name" = discard ] || ports="$SMTP_PORT $HTTP_PORT"
	for p in $ports; do
		for _ in $(seq 100); do
			port_open "$p" && continue 2
			kill -0 "$sink_pid" 2>/dev/null || break
			sleep 0.1
		done
		say "$name did not start; its log:"
		tail -n 20 "$log" | sed 's/^/    /' >&2
		stop_sink
		return 1
	done
}

stop_sink() {
	[ -n "$sink_pid" ] || return 0
	kill "$sink_pid" 2>/dev/null || true
	wait "$sink_pid" 2>/dev/null || true
	sink_pid=
	for _ in $(seq 50); do # let the ports go before the next sink binds them
		port_open "$SMTP_PORT" || port_open "$HTTP_PORT" || return 0
		sleep 0.1
	done
}

# run_bench LABEL ARGS...: one load run; its JSON summary goes to results.
run_bench() {
	local label=$1
	shift
	local out
	out=$(timeout "$BENCH_TIMEOUT" "$bench" -addr "127.0.0.1:$SMTP_PORT" -label "$label" -json "$@" 2>>"$work/bench.log") ||
		say "$label: some messages failed or the check found problems (see the table and $work/bench.log)"
	[ -n "$out" ] || { say "$label: no result"; return 0; }
	echo "$out" >>"$results"
	local rate
	rate=$(grep -o '"msgs_per_s":[0-9]*' <<<"$out" | cut -d: -f2)
	say "$(printf '%-26s %6s msgs/s' "$label" "$rate")"
}

api_args() { # check and latency need the sink's API; the discard server has none
	case $1 in
	discard) ;;
	# Both peers prepend trace headers and Inbucket stores LF line endings:
	# the check accepts that for them, never for mailsink.
	mailpit | inbucket) echo "-api $API -api-kind $1 -allow-rewritten" ;;
	*) echo "-api $API -api-kind $1" ;;
	esac
}

# ---------------------------------------------------------------- rounds
load=$(cut -d' ' -f1 /proc/loadavg)
say "load average before: $load on $(nproc) cores$(awk -v l="$load" 'BEGIN { if (l > 0.5) print " — other work is running; figures will be noisy" }')"

declare -A broken
order=()
for s in $SINKS; do
	[ -n "${bin[$s]:-}" ] && order+=("$s")
done
for round in $(seq "$ROUNDS"); do
	for s in "${order[@]}"; do
		[ -z "${broken[$s]:-}" ] || continue
		# shellcheck disable=SC2046 # api_args is a word list on purpose
		{
			start_sink "$s" || { broken[$s]=1; continue; }
			run_bench "$s:tput:$round" -c 16 -per 50 -pid "$sink_pid"
			[ "$s" = discard ] || run_bench "$s:latency:$round" -c 1 -n "$LATENCY_N" $(api_args "$s")
			stop_sink

			start_sink "$s" || { broken[$s]=1; continue; }
			run_bench "$s:fill:$round" -c 16 -n "$FILL" -pid "$sink_pid" -settle 1s -visible=false \
				$([ "$round" = 1 ] && api_args "$s" | sed 's/$/ -check/')
			if [ "$s" = mailpit ]; then
				say "  Mailpit's database file: $(du -sk "$work/mailpit-tmp" | cut -f1) KiB for $FILL messages (not in its RSS)"
			fi
			stop_sink

			start_sink "$s" || { broken[$s]=1; continue; }
			run_bench "$s:attach:$round" -c 4 -per "$ATTACH_PER" -size 2000 -attach 1048576 -pid "$sink_pid"
			stop_sink
			rm -rf "$work/mailpit-tmp"
		}
	done
	order=("${order[@]:1}" "${order[0]}") # take turns: a different sink goes first each round
done

echo
echo "mailsink $(git describe --always --dirty 2>/dev/null || echo '?') vs Mailpit $MAILPIT_VERSION, Inbucket $INBUCKET_VERSION; $(nproc) cores, $ROUNDS rounds, load average now $(cut -d' ' -f1 /proc/loadavg), $((SECONDS - started))s"
"$bench" -table "$results"
