#!/usr/bin/env bash
# Model-check the reservation protocol (CSources/RedlineCore/model/reservation.pml)
# with spin, in the configurations CI checks. Exits non-zero on any
# counterexample, leaving its trail in the work directory for
# `spin -t -p reservation.pml`.
#
#   scripts/model-check.sh           the CI configurations (exhaustive: 2 checkers, 2 symbols, 3 checkers)
#   scripts/model-check.sh --full    those, 2 orders per checker, and 3 checkers of every price (bitstate)
#   scripts/model-check.sh --quick   the smallest one only
set -euo pipefail
cd "$(dirname "$0")/.."
model=CSources/RedlineCore/model/reservation.pml
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$model" CSources/RedlineCore/model/halt.pml "$work/"
cd "$work"

# name | spin -D options | pan compile options | pan run options
configurations=(
    "1 symbol, 2 checkers, 2 risk ops (exhaustive)|-DSYMBOLS=1 -DCHECKERS=2 -DORDERS=1 -DRISK_OPS=2|-DSAFETY -DCOLLAPSE|-m1000000"
    "2 symbols, 2 checkers, 1 risk op (exhaustive)|-DSYMBOLS=2 -DCHECKERS=2 -DORDERS=1 -DRISK_OPS=1|-DSAFETY -DCOLLAPSE|-m1000000"
    "1 symbol, 2 checkers of 2 orders, 1 risk op (exhaustive)|-DSYMBOLS=1 -DCHECKERS=2 -DORDERS=2 -DRISK_OPS=1|-DSAFETY -DCOLLAPSE|-m1000000"
    "1 symbol, 3 checkers (one order price each), 1 risk op (exhaustive)|-DSYMBOLS=1 -DCHECKERS=3 -DORDERS=1 -DRISK_OPS=1 -DONE_PRICE_PER_CHECKER|-DSAFETY -DCOLLAPSE|-m1000000"
    "1 symbol, 3 checkers, 1 risk op (bitstate)|-DSYMBOLS=1 -DCHECKERS=3 -DORDERS=1 -DRISK_OPS=1|-DSAFETY -DBITSTATE|-m1000000 -w30"
)
case "${1:-}" in
    --quick) configurations=("${configurations[0]}") ;;
    --full) ;;
    *) configurations=("${configurations[0]}" "${configurations[1]}" "${configurations[3]}") ;;
esac

status=0
for entry in "${configurations[@]}"; do
    IFS='|' read -r name defines cflags run <<<"$entry"
    spin $defines -a reservation.pml >/dev/null
    cc -O2 $cflags -o pan pan.c
    start=$(date +%s)
    ./pan $run >pan.out 2>&1 || true
    seconds=$(( $(date +%s) - start ))
    states=$(grep -oE '[0-9.e+]+ states, stored' pan.out | head -1 | cut -d' ' -f1)
    errors=$(grep -oE 'errors: [0-9]+' pan.out | head -1 | cut -d' ' -f2)
    if [ "${errors:-1}" != "0" ] || grep -q "assertion violated" pan.out; then
        echo "model: $name: COUNTEREXAMPLE"
        grep -E "assertion violated|pan:" pan.out | head -5
        spin $defines -t -p reservation.pml | tail -40 || true
        status=1
    else
        echo "model: $name: no counterexample ($states states, ${seconds}s)"
    fi
done

# The halt from any thread (halt.pml): the model in two sizes, then each
# mutant, which must be caught.

run_halt() { # defines -> prints errors
    spin $1 -a halt.pml >/dev/null
    cc -O2 -DSAFETY -DCOLLAPSE -o pan pan.c
    ./pan -m1000000 >pan.out 2>&1 || true
    grep -oE 'errors: [0-9]+' pan.out | head -1 | cut -d' ' -f2
}
for defines in "-DHALTERS=2 -DCHECKERS=1 -DORDERS=2 -DRISK_OPS=3" "-DHALTERS=1 -DCHECKERS=2 -DORDERS=2 -DRISK_OPS=3"; do
    start=$(date +%s)
    errors=$(run_halt "$defines")
    states=$(grep -oE '[0-9.e+]+ states, stored' pan.out | head -1 | cut -d' ' -f1)
    if [ "${errors:-1}" != "0" ]; then
        echo "model: halt, $defines: COUNTEREXAMPLE"
        grep -E "assertion violated" pan.out | head -3
        spin $defines -t -p halt.pml | tail -40 || true
        status=1
    else
        echo "model: halt, $defines: no counterexample ($states states, $(( $(date +%s) - start ))s)"
    fi
done
for mutant in MUTANT_NO_REQUEST MUTANT_REQUEST_FIRST MUTANT_STORE; do
    errors=$(run_halt "-D$mutant -DHALTERS=2 -DCHECKERS=1 -DORDERS=2 -DRISK_OPS=3")
    if [ "${errors:-0}" = "0" ]; then
        echo "model: halt, $mutant: NOT caught (the properties cannot see it)"
        status=1
    else
        echo "model: halt, $mutant: caught ($(grep -oE 'assertion violated [^ ]+' pan.out | head -1))"
    fi
done
exit $status
