#!/usr/bin/env bash
# Memory and start time of the scaled sandbox itself:
#
#   scripts/sandbox-rss.sh [BINARY] [N]     # default: target/release/vinspect 10000
#
# Starts `vinspect sandbox --scale N` with a throwaway kubeconfig, waits for its `ready:` line,
# waits 3 s more, prints the time to ready, VmRSS, VmHWM, the sandbox's CPU time (utime+stime)
# and the load average, then stops it with SIGTERM.
set -euo pipefail
bin=${1:-target/release/vinspect}
n=${2:-10000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
start=$(date +%s.%N)
"$bin" sandbox --scale "$n" --kubeconfig "$dir/kubeconfig" >"$dir/out" 2>"$dir/err" &
pid=$!
until grep -q '^ready:' "$dir/out" 2>/dev/null; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "sandbox exited before it was ready:" >&2
    tail -5 "$dir/err" >&2
    exit 1
  fi
  sleep 0.5
done
ready=$(echo "$(date +%s.%N) - $start" | bc)
sleep 3
rss=$(awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$pid/status")
hwm=$(awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$pid/status")
cpu=$(awk '{printf "%.1f", ($14+$15)/100}' "/proc/$pid/stat")
printf 'pairs %s: ready after %.1f s, RSS %s MB (peak %s MB), CPU %s s, load %s\n' \
  "$n" "$ready" "$rss" "$hwm" "$cpu" "$(cut -d' ' -f1-3 /proc/loadavg)"
kill -TERM "$pid"
wait "$pid" 2>/dev/null || true
