#!/usr/bin/env bash
# cascade against a SimPy model of the same gateway scenario: wall times and ratio.
# A yardstick, not part of the product or its CI. Needs Python 3 and PyPI:
#   python3 -m venv bench/.venv && bench/.venv/bin/pip install simpy
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-bench/.venv/bin/python}
cargo build --release --quiet
for case in "100 120" "10000 600"; do
  set -- $case
  users=$1 seconds=$2
  start=$(date +%s.%N)
  cascade_out=$(./target/release/cascade run scenarios/gateway-with-breaker.toml \
    --set load.users="$users" --set load.spawn_rate=10 --set scenario.duration="${seconds}s" --format json)
  cascade_s=$(echo "$(date +%s.%N) - $start" | bc -l)
  start=$(date +%s.%N)
  simpy_out=$("$python" bench/simpy/gateway.py "$users" "$seconds")
  simpy_s=$(echo "$(date +%s.%N) - $start" | bc -l)
  summary=$(echo "$cascade_out" | "$python" -c 'import json,sys; v=json.load(sys.stdin)["variants"][0]; print(v["completed"], v["latency_ms"]["mean"], v["throughput_rps"])')
  printf '%6s users %5ss: cascade %8.3f s (completed, mean ms, rps: %s) | SimPy %8.3f s (%s) | ratio %.0fx\n' \
    "$users" "$seconds" "$cascade_s" "$summary" "$simpy_s" "$simpy_out" "$(echo "$simpy_s / $cascade_s" | bc -l)"
done
