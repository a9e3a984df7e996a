#!/usr/bin/env bash
# A profile-guided release build of cascade, for sweeps and for the speed yardsticks:
#   bash bench/pgo.sh            builds target/pgo/release/cascade
# then e.g.  target/pgo/release/cascade bench --repeat 3
#      or    CASCADE=target/pgo/release/cascade bash bench/compare.sh
#
# Three steps, as the rustc book's PGO chapter gives them: an instrumented build,
# a training run, and a build that uses the merged profile. The training runs
# every bundled scenario in scenarios/ except gateway-with-breaker.toml, which the
# bench and compare.sh time (and scenarios/validation/, which holds the M/M/c
# case), so the profile is not fitted to the cases it is judged on.
#
# The profile changes which code is inlined and how it is laid out, never what it
# computes: no floating-point reassociation is involved, so the outputs are the
# same bytes as a plain release build's (the script checks that on every
# scenario). Needs llvm-profdata matching rustc's LLVM:
#   rustup component add llvm-tools
set -euo pipefail
cd "$(dirname "$0")/.."
sysroot=$(rustc --print sysroot)
host=$(rustc -vV | sed -n 's/^host: //p')
profdata="$sysroot/lib/rustlib/$host/bin/llvm-profdata"
if [ ! -x "$profdata" ]; then
  echo "error: $profdata not found; run: rustup component add llvm-tools" >&2
  exit 1
fi
data=target/pgo-data
rm -rf "$data"
mkdir -p "$data"
data_abs=$(cd "$data" && pwd)

echo "1/3 instrumented build (target/pgo-gen)" >&2
RUSTFLAGS="-Cprofile-generate=$data_abs" CARGO_TARGET_DIR=target/pgo-gen \
  cargo build --release --locked --quiet
training=()
for scenario in scenarios/*.toml; do
  [ "$scenario" = scenarios/gateway-with-breaker.toml ] && continue
  training+=("$scenario")
done
echo "2/3 training on ${#training[@]} bundled scenarios" >&2
for scenario in "${training[@]}"; do
  # An experiment whose hypothesis deviates exits non-zero by design; its profile
  # counts all the same.
  target/pgo-gen/release/cascade run "$scenario" >/dev/null 2>&1 || true
done
"$profdata" merge -o "$data_abs/merged.profdata" "$data_abs"/*.profraw

echo "3/3 optimised build (target/pgo)" >&2
RUSTFLAGS="-Cprofile-use=$data_abs/merged.profdata" CARGO_TARGET_DIR=target/pgo \
  cargo build --release --locked --quiet

# Same bytes as the plain build, scenario by scenario.
cargo build --release --locked --quiet
for scenario in scenarios/*.toml; do
  plain=$(target/release/cascade run "$scenario" --format json 2>&1 | md5sum || true)
  guided=$(target/pgo/release/cascade run "$scenario" --format json 2>&1 | md5sum || true)
  if [ "$plain" != "$guided" ]; then
    echo "error: $scenario: the profile-guided build's report differs from the plain build's" >&2
    exit 1
  fi
done
echo "target/pgo/release/cascade: same reports as target/release/cascade on every bundled scenario" >&2
