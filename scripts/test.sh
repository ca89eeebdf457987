#!/usr/bin/env bash
# The whole test suite: C examples as tests, Swift tests, the same tests under
# ThreadSanitizer, and the benchmark malloc gate.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

step() { printf '\n=== %s\n' "$*"; }

step "C and C++ API examples (gcc -Wall -Wextra -Werror)"
objects=$(mktemp -d)
trap 'rm -rf "$objects"' EXIT
for f in CSources/RedlineCore/rl_*.c; do
    cc -std=c11 -Wall -Wextra -Werror -O2 -D_GNU_SOURCE -ICSources/RedlineCore/include -c "$f" -o "$objects/$(basename "$f").o"
done
cc -std=c11 -Wall -Wextra -Werror -O2 -D_GNU_SOURCE -ICSources/RedlineCore/include \
    Examples/c_strategy.c "$objects"/rl_*.o -o "$objects/c_strategy"
"$objects/c_strategy"
c++ -std=c++23 -Wall -Wextra -Werror -O2 -ICSources/RedlineCore/include \
    Examples/cpp_strategy.cpp "$objects"/rl_*.o -o "$objects/cpp_strategy"
"$objects/cpp_strategy"

step "swift test"
swift test

step "swift test --sanitize=thread"
swift test --sanitize=thread --scratch-path .build-tsan

step "benchmark malloc gate (thresholds check, mallocCountTotal)"
cd Benchmarks
set +e
output=$(swift package benchmark thresholds check --metric mallocCountTotal --no-progress 2>&1)
status=$?
set -e
echo "$output" | grep -vE '^\[[0-9]+/[0-9]+\]'
if [ "$status" -ne 0 ]; then
    # thresholds check exits non-zero for an improvement too; only a regression fails CI.
    if echo "$output" | grep -q "benchmarkThresholdRegression\|regress"; then
        echo "malloc gate: REGRESSION" >&2
        exit 1
    fi
    echo "malloc gate: improvement over the committed thresholds (update them with thresholds update)"
fi
echo "malloc gate: ok"
