#!/usr/bin/env bash
# cascade against a SimPy model of the same gateway scenario (bench/simpy/gateway.py):
# results side by side, and the ratio of times two ways:
#   process:    whole commands, start-up included (`cascade run` parses the TOML and
#               prints a report; python starts an interpreter and imports SimPy);
#   simulation: each program's own timing of building and running the model
#               (`cascade bench --case`, and gateway.py's own clock), wall and CPU.
# The short case takes milliseconds, so each program runs it 5 times and the fastest
# run (by wall time) counts, the same for both; the long one runs once each.
# A yardstick, not part of the product or its CI. Needs Python 3 and PyPI:
#   python3 -m venv bench/.venv && bench/.venv/bin/pip install simpy
set -euo pipefail
cd "$(dirname "$0")/.."
# CASCADE=target/pgo/release/cascade compares the profile-guided build (bench/pgo.sh).
python=${PYTHON:-bench/.venv/bin/python}
if [ -n "${CASCADE:-}" ]; then
  cascade=$CASCADE
else
  cargo build --release --quiet
  cascade=./target/release/cascade
fi
timing=$(mktemp)
trap 'rm -f "$timing" "$timing.json" "$timing.out"' EXIT
# users, simulated seconds, spawn rate, and the bench case with the same settings.
# The fastest of `runs` lines by their `field`-th field (wall time).
fastest() {
  local runs=$1 field=$2
  shift 2
  for _ in $(seq "$runs"); do "$@"; done | sort -g -k"$field" | head -1
}
for case in "100 120 10 gateway 5" "10000 600 1000 gateway-10k-10m 1"; do
  set -- $case
  users=$1 seconds=$2 rate=$3 bench_case=$4 runs=$5
  start=$(date +%s.%N)
  "$cascade" run scenarios/gateway-with-breaker.toml \
    --set load.users="$users" --set load.spawn_rate="$rate" --set scenario.duration="${seconds}s" \
    --format json >"$timing.json"
  cascade_process=$(echo "$(date +%s.%N) - $start" | bc -l)
  cascade_result=$("$python" -c 'import json,sys; v=json.load(open(sys.argv[1]))["variants"][0]; print(v["completed"], v["latency_ms"]["mean"], v["throughput_rps"], v["events"])' "$timing.json")
  rm -f "$timing.json"
  # name wall_s cpu_s events requests peak_kb
  read -r _ cascade_wall cascade_cpu _ < <(fastest "$runs" 2 "$cascade" bench --case "$bench_case")
  start=$(date +%s.%N)
  fastest "$runs" 5 "$python" bench/simpy/gateway.py "$users" "$seconds" "$rate" >"$timing.out"
  # Whole commands, start-up included: the mean over the runs.
  simpy_process=$(echo "($(date +%s.%N) - $start) / $runs" | bc -l)
  # completed mean_ms rps events wall_s cpu_s
  read -r s_completed s_mean s_rps _ simpy_wall simpy_cpu <"$timing.out"
  rm -f "$timing.out"
  read -r c_completed c_mean c_rps c_events <<<"$cascade_result"
  printf '%s users, %s s, spawn %s/s\n' "$users" "$seconds" "$rate"
  printf '  results     cascade: %s requests, mean %.1f ms, %.1f req/s (%s events)\n' "$c_completed" "$c_mean" "$c_rps" "$c_events"
  printf '              SimPy:   %s requests, mean %.1f ms, %.1f req/s\n' "$s_completed" "$s_mean" "$s_rps"
  printf '  process     cascade %8.3f s  SimPy %8.3f s  ratio %6.0fx  (wall, start-up included)\n' \
    "$cascade_process" "$simpy_process" "$(echo "$simpy_process / $cascade_process" | bc -l)"
  printf '  simulation  cascade %8.3f s  SimPy %8.3f s  ratio %6.0fx  (wall)\n' \
    "$cascade_wall" "$simpy_wall" "$(echo "$simpy_wall / $cascade_wall" | bc -l)"
  printf '              cascade %8.3f s  SimPy %8.3f s  ratio %6.0fx  (CPU)\n' \
    "$cascade_cpu" "$simpy_cpu" "$(echo "$simpy_cpu / $cascade_cpu" | bc -l)"
done
