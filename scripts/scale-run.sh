#!/usr/bin/env bash
# Scale run: vinspect against kubectl on one sandbox per size, and the TUI's start time, memory,
# CPU and change-to-screen lag.
#
#   scripts/scale-run.sh [N ...]            # default: 10000 50000
#
# For each N (pairs = objects per side) it starts `vinspect sandbox --scale N --churn 100` with
# churn paused (SIGUSR1 toggles it), then measures:
#   * `vinspect check -o json` against `kubectl get pods,svc,ing,ep -A -o json` on the virtual
#     and the host context (kubectl's time is the sum of both; REPEAT runs, medians);
#   * TUI start to first full screen: launch time to the "first full frame" event in the TUI's
#     log (the TUI runs in tmux at 200x60; REPEAT starts, median);
#   * RSS of the TUI process once the first full frame is drawn and 5 s later (VmRSS, VmHWM);
#   * CPU of the TUI (utime+stime from /proc) over IDLE_SECS idle, then over CHURN_SECS with
#     churn on (100 changes/s);
#   * lag from each churn write to the first frame showing it: the sandbox logs each write
#     (side, kind, resourceVersion, time), the TUI logs each published snapshot (newest
#     resourceVersion per side and kind), which snapshot each row computation used, and each
#     frame drawn; scripts/scale-lag.py joins them.
#
# Environment: VINSPECT (binary; default target/release/vinspect, else $CARGO_TARGET_DIR's),
# OUT (results dir; default a fresh temp dir), REPEAT (3), IDLE_SECS (30), CHURN_SECS (60),
# CHURN (100), KUBECTL_MAX_RSS_MB (8000: kubectl is killed past it). Needs kubectl, tmux and
# python3. Results: $OUT/results.md and $OUT/<N>/.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
BIN="${VINSPECT:-}"
if [[ -z "$BIN" ]]; then
  for c in "$root/target/release/vinspect" "${CARGO_TARGET_DIR:-/nonexistent}/release/vinspect"; do
    [[ -x "$c" ]] && BIN="$c" && break
  done
fi
[[ -x "${BIN:-}" ]] || { echo "error: no release binary; run 'cargo build --release' or set VINSPECT" >&2; exit 2; }
for tool in kubectl tmux python3; do
  command -v "$tool" >/dev/null || { echo "error: $tool is not installed" >&2; exit 2; }
done
OUT="${OUT:-$(mktemp -d /tmp/vinspect-scale.XXXXXX)}"
REPEAT="${REPEAT:-3}"
IDLE_SECS="${IDLE_SECS:-30}"
CHURN_SECS="${CHURN_SECS:-60}"
CHURN="${CHURN:-100}"
KUBECTL_MAX_RSS_MB="${KUBECTL_MAX_RSS_MB:-8000}"
SIZES=("$@")
[[ ${#SIZES[@]} -gt 0 ]] || SIZES=(10000 50000)
mkdir -p "$OUT"
echo "binary: $BIN" | tee "$OUT/run.txt"
echo "results: $OUT" | tee -a "$OUT/run.txt"

sandbox_pid=""
session=""
cleanup() {
  [[ -n "$session" ]] && tmux kill-session -t "$session" 2>/dev/null || true
  [[ -n "$sandbox_pid" ]] && kill "$sandbox_pid" 2>/dev/null && wait "$sandbox_pid" 2>/dev/null || true
}
trap cleanup EXIT

now_ms() { date +%s%3N; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
median() { python3 -c 'import statistics,sys; v=[float(x) for x in sys.argv[1:]]; print(round(statistics.median(v), 3) if v else "n/a")' "$@"; }

# Wall seconds of one command (stdout discarded); fails the run if it fails with exit >= 2.
timed() {
  local s e rc=0
  s=$(date +%s%N)
  "$@" >/dev/null 2>>"$dir/errors.log" || rc=$?
  e=$(date +%s%N)
  if (( rc >= 2 )); then echo "error: '$*' exited $rc (see $dir/errors.log)" >&2; exit 2; fi
  python3 -c "print(($e - $s) / 1e9)"
}

# Like `timed`, but a failure is a result, not the end of the run: kubectl can run out of
# memory on a big sandbox, and that is worth reporting next to vinspect's figures. A command
# whose RSS passes KUBECTL_MAX_RSS_MB is killed before it drives the machine into swap or the
# OOM killer (at 50,000 pairs kubectl on the host context grew to 20 GB and left the machine
# thrashing for the measurements after it).
timed_or_failed() {
  local s e rc=0 pid rss peak=0 killed=""
  s=$(date +%s%N)
  "$@" >/dev/null 2>>"$dir/errors.log" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    rss=$(awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$pid/status" 2>/dev/null || echo 0)
    (( ${rss:-0} > peak )) && peak=${rss:-0}
    if (( ${rss:-0} > KUBECTL_MAX_RSS_MB )); then
      kill -9 "$pid" 2>/dev/null || true
      killed="killed at ${rss} MB RSS"
      break
    fi
    sleep 0.5
  done
  wait "$pid" || rc=$?
  e=$(date +%s%N)
  if [[ -n "$killed" ]]; then echo "failed($killed after $(( (e - s) / 1000000000 )) s)"; return; fi
  if (( rc != 0 )); then echo "failed(exit $rc)"; return; fi
  python3 -c "print(($e - $s) / 1e9)"
}

for N in "${SIZES[@]}"; do
  dir="$OUT/$N"
  mkdir -p "$dir"
  kc="$dir/kubeconfig"
  echo "== N=$N: starting the sandbox (load $(loadavg))"
  t0=$(now_ms)
  VINSPECT_LOG="info,vinspect::churn=debug" "$BIN" sandbox --scale "$N" --churn "$CHURN" \
    --kubeconfig "$kc" >"$dir/sandbox.out" 2>"$dir/sandbox.log" &
  sandbox_pid=$!
  until grep -q '^ready:' "$dir/sandbox.out" 2>/dev/null; do
    kill -0 "$sandbox_pid" 2>/dev/null || { echo "error: the sandbox exited; see $dir/sandbox.log" >&2; exit 2; }
    sleep 0.5
  done
  kill -USR1 "$sandbox_pid" # pause churn until the churn phase
  gen_s=$(python3 -c "print(($(now_ms) - $t0) / 1000)")
  vctx=$(kubectl --kubeconfig "$kc" config current-context)
  hctx=sandbox-host
  echo "   ready after ${gen_s}s (generation and twins)"

  # check vs kubectl
  checks=(); kubectls=()
  for i in $(seq "$REPEAT"); do
    checks+=("$(timed "$BIN" --kubeconfig "$kc" check -o json)")
    kv=$(timed_or_failed kubectl --kubeconfig "$kc" --context "$vctx" get pods,svc,ing,ep -A -o json)
    kh=$(timed_or_failed kubectl --kubeconfig "$kc" --context "$hctx" get pods,svc,ing,ep -A -o json)
    if [[ "$kv$kh" == *failed* ]]; then
      echo "   kubectl: virtual $kv, host $kh" >&2
      kubectls+=("virtual:$kv+host:$kh")
    else
      kubectls+=("$(python3 -c "print($kv + $kh)")")
    fi
  done
  load_check=$(loadavg)
  "$BIN" --kubeconfig "$kc" check -o json >"$dir/check.json" || true
  pairs=$(python3 -c "import json; print(json.load(open('$dir/check.json'))['summary']['total'])")
  check_med=$(median "${checks[@]}")
  if [[ "${kubectls[*]}" == *failed* ]]; then
    kubectl_med="${kubectls[*]}"
    ratio="n/a"
  else
    kubectl_med=$(median "${kubectls[@]}")
    ratio=$(python3 -c "print(round($check_med / $kubectl_med, 2))")
  fi
  echo "   check ${check_med}s, kubectl (both contexts) ${kubectl_med}s, ratio ${ratio} (load $load_check)"

  # TUI: first full frame, RSS, idle CPU, churn CPU and lag
  firsts=()
  for i in $(seq "$REPEAT"); do
    state="$dir/state-$i"
    # A fresh log: the first-frame and lag readings take the first matching lines.
    rm -rf "$state"
    mkdir -p "$state"
    session="vinspect-scale-$$-$N-$i"
    launch=$(now_ms)
    tmux new-session -d -s "$session" -x 200 -y 60 \
      "env XDG_STATE_HOME='$state' VINSPECT_LOG='warn,vinspect::tui=trace,vinspect::watch=trace,vinspect::live=trace' '$BIN' --kubeconfig '$kc'"
    log="$state/vinspect/vinspect.log"
    for _ in $(seq 1200); do
      grep -q 'first full frame' "$log" 2>/dev/null && break
      sleep 0.1
    done
    grep -q 'first full frame' "$log" || { echo "error: no first full frame within 120 s; see $log" >&2; exit 2; }
    ff=$(python3 - "$log" "$launch" <<'PY'
import sys, datetime
log, launch = sys.argv[1], int(sys.argv[2])
for line in open(log):
    if 'first full frame' in line:
        ts = line.split()[0].rstrip('Z')
        t = datetime.datetime.fromisoformat(ts).replace(tzinfo=datetime.timezone.utc).timestamp()
        print(round((t * 1000 - launch) / 1000, 3)); break
PY
)
    firsts+=("$ff")
    pid=$(tmux list-panes -t "$session" -F '#{pane_pid}')
    if (( i < REPEAT )); then
      tmux send-keys -t "$session" q
      sleep 1
      tmux kill-session -t "$session" 2>/dev/null || true
      session=""
    fi
  done
  first_med=$(median "${firsts[@]}")
  echo "   first full frame ${first_med}s (runs: ${firsts[*]})"
  sleep 5
  rss_mb=$(awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$pid/status")
  hwm_mb=$(awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$pid/status")
  echo "   RSS ${rss_mb} MB (peak ${hwm_mb} MB)"

  a=$(cpu_ticks "$pid"); sleep "$IDLE_SECS"; b=$(cpu_ticks "$pid")
  idle_cpu=$(python3 -c "print(round(($b - $a) / $IDLE_SECS, 2))")
  load_idle=$(loadavg)
  echo "   idle CPU ${idle_cpu}% over ${IDLE_SECS}s (load $load_idle)"

  churn_from=$(now_ms)
  kill -USR1 "$sandbox_pid" # churn on
  a=$(cpu_ticks "$pid"); sleep "$CHURN_SECS"; b=$(cpu_ticks "$pid")
  kill -USR1 "$sandbox_pid" # churn off
  churn_to=$(now_ms)
  churn_cpu=$(python3 -c "print(round(($b - $a) / $CHURN_SECS, 2))")
  load_churn=$(loadavg)
  rss_churn_mb=$(awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$pid/status")
  sleep 2 # let the last changes reach the screen
  lag=$(python3 "$here/scale-lag.py" "$dir/sandbox.log" "$log" "$churn_from" "$churn_to")
  echo "   churn CPU ${churn_cpu}% at ${CHURN}/s over ${CHURN_SECS}s (load $load_churn); lag $lag"
  tmux send-keys -t "$session" q
  sleep 1
  tmux kill-session -t "$session" 2>/dev/null || true
  session=""
  kill "$sandbox_pid" 2>/dev/null || true
  wait "$sandbox_pid" 2>/dev/null || true
  sandbox_pid=""

  cat >"$dir/result.txt" <<EOF
N=$N pairs=$pairs generation_s=$gen_s
check_s=$check_med kubectl_s=$kubectl_med ratio=$ratio checks=(${checks[*]}) kubectls=(${kubectls[*]}) load="$load_check"
first_full_frame_s=$first_med runs=(${firsts[*]})
rss_mb=$rss_mb peak_mb=$hwm_mb rss_after_churn_mb=$rss_churn_mb
idle_cpu_pct=$idle_cpu load="$load_idle"
churn_cpu_pct=$churn_cpu rate=$CHURN secs=$CHURN_SECS load="$load_churn"
lag=$lag
EOF
  {
    echo "| $N ($pairs rows) | $check_med s | $kubectl_med s | $ratio× | $first_med s | $rss_mb MB (peak $hwm_mb) | $idle_cpu % | $churn_cpu % | $lag | $load_check / $load_churn |"
  } >>"$OUT/rows.md"
done

{
  echo "| pairs | check -o json | kubectl, both contexts | ratio | first full screen | TUI RSS | idle CPU | CPU at ${CHURN}/s | lag change→screen (median / p99 / max) | load avg (check / churn) |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  cat "$OUT/rows.md"
} >"$OUT/results.md"
cat "$OUT/results.md"
