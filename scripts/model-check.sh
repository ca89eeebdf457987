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
    "2 symbols from a short at the book's limit, 2 checkers of orders of 1 or 2 (a cover that does not raise its side), 1 risk op (exhaustive)|-DSYMBOLS=2 -DCHECKERS=2 -DORDERS=1 -DRISK_OPS=1 -DQTY2 -DSHORT_START|-DSAFETY -DCOLLAPSE|-m1000000"
)
case "${1:-}" in
    --quick) configurations=("${configurations[0]}") ;;
    --full) ;;
    *) configurations=("${configurations[0]}" "${configurations[1]}" "${configurations[3]}" "${configurations[5]}") ;;
esac

# run_model MODEL DEFINES CFLAGS RUN: spin, then pan; sets $errors and $states.
# pan is built with -O2 ($optimize), or -O0 for a mutant: its counterexample
# comes within seconds, and -O2 takes 23 s to compile pan.c (13 mutants).
optimize=-O2
run_model() {
    spin $2 -a "$1" >/dev/null
    cc $optimize $3 -o pan pan.c
    ./pan $4 >pan.out 2>&1 || true
    states=$(grep -oE '[0-9.e+]+ states, stored' pan.out | head -1 | cut -d' ' -f1)
    errors=$(grep -oE 'errors: [0-9]+' pan.out | head -1 | cut -d' ' -f2)
    if grep -q "assertion violated" pan.out; then errors=${errors:-1}; fi
}

# check_model MODEL NAME DEFINES CFLAGS RUN: a counterexample (or no verdict) fails, with its trail.
check_model() {
    local start=$(date +%s)
    run_model "$1" "$3" "$4" "$5"
    if [ "${errors:-1}" != "0" ]; then
        echo "model: $2: COUNTEREXAMPLE"
        grep -E "assertion violated|pan:" pan.out | head -5
        spin $3 -t -p "$1" | tail -40 || true
        status=1
    else
        echo "model: $2: no counterexample ($states states, $(( $(date +%s) - start ))s)"
    fi
}

status=0
for entry in "${configurations[@]}"; do
    IFS='|' read -r name defines cflags run <<<"$entry"
    check_model reservation.pml "$name" "$defines" "$cflags" "$run"
done
# The mutant the model must catch: a raise judged with the total read before
# the other side (the C code until CI found it, boundary_races I1).
optimize=-O0 run_model reservation.pml "-DMUTANT_TOTAL_FIRST -DSYMBOLS=2 -DCHECKERS=1 -DORDERS=1 -DRISK_OPS=1 -DQTY2 -DSHORT_START" "-DSAFETY -DCOLLAPSE" "-m1000000"
if [ "${errors:-0}" = "0" ]; then
    echo "model: reservation, MUTANT_TOTAL_FIRST: NOT caught (the properties cannot see it)"
    status=1
else
    echo "model: reservation, MUTANT_TOTAL_FIRST: caught (I1 after the operation: ACTIVE with the book over its limit)"
fi

# The halt from any thread (halt.pml): the model in two sizes, then each
# mutant, which must be caught.
# The third: the operator's unfreeze bounded by the kill-switch pulls its
# requester had seen (the lifting mark), with one halter a pull (P6); two
# controller operations (20 M states, about 25 s; each mark mutant is
# caught in it). --full adds three (249 M states, about 9 minutes, 12 GB).
bounded="-DBOUNDED_UNFREEZE -DPULLERS=1 -DHALTERS=2 -DCHECKERS=1 -DORDERS=2 -DRISK_OPS=2"
halt_configurations=("-DHALTERS=2 -DCHECKERS=1 -DORDERS=2 -DRISK_OPS=3" "-DHALTERS=1 -DCHECKERS=2 -DORDERS=2 -DRISK_OPS=3" "$bounded")
if [ "${1:-}" = "--full" ]; then halt_configurations+=("${bounded/RISK_OPS=2/RISK_OPS=3}"); fi
for defines in "${halt_configurations[@]}"; do
    check_model halt.pml "halt, $defines" "$defines" "-DSAFETY -DCOLLAPSE" "-m1000000"
done
for mutant in MUTANT_NO_REQUEST MUTANT_REQUEST_FIRST MUTANT_STORE MUTANT_TRANSIENT_SKIP MUTANT_TRANSIENT_REQUEST_ONLY MUTANT_RETRY_LIFT \
    MUTANT_NO_MARK MUTANT_MARK_WITHOUT_TAKE_IN MUTANT_LIFT_UNMARKED MUTANT_CLEAR_OVER_MARK MUTANT_UNMARK_FORGETS MUTANT_MARK_ABA; do
    case $mutant in
        MUTANT_NO_MARK | MUTANT_MARK_WITHOUT_TAKE_IN | MUTANT_LIFT_UNMARKED | MUTANT_CLEAR_OVER_MARK | MUTANT_UNMARK_FORGETS | MUTANT_MARK_ABA)
            defines="-D$mutant $bounded" ;;
        *) defines="-D$mutant -DHALTERS=2 -DCHECKERS=1 -DORDERS=2 -DRISK_OPS=3" ;;
    esac
    optimize=-O0 run_model halt.pml "$defines" "-DSAFETY -DCOLLAPSE" "-m1000000"
    if [ "${errors:-0}" = "0" ]; then
        echo "model: halt, $mutant: NOT caught (the properties cannot see it)"
        status=1
    else
        echo "model: halt, $mutant: caught ($(grep -m1 -oE 'assertion violated .*\)' pan.out | cut -d' ' -f3-))"
    fi
done
exit $status
