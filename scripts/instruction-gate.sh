#!/usr/bin/env bash
# The latency gate: instructions per call of the hot path, counted exactly by
# callgrind, against Benchmarks/InstructionGate/thresholds.txt.
#
#   scripts/instruction-gate.sh           check against the thresholds
#   scripts/instruction-gate.sh --update  write the counts as the new thresholds
set -euo pipefail
cd "$(dirname "$0")/.."
thresholds=Benchmarks/InstructionGate/thresholds.txt
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -std=c11 -O2 -D_GNU_SOURCE -ICSources/RedlineCore/include Benchmarks/InstructionGate/gate.c \
    CSources/RedlineCore/rl_*.c -luring -lnuma -lpthread -lm -o "$work/gate"

count() { # operation n -> total instructions
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$work/gate" "$1" "$2" 2>&1 |
        sed -nE 's/.*Collected : ([0-9]+).*/\1/p'
}

n=100000
status=0
updated=$(grep '^#' "$thresholds")
declare -A counted
for op in check reserve reserve_reducing ring check_all_rules reserve_all_rules router router_all_rules; do
    a=$(count "$op" "$n")
    b=$(count "$op" $((2 * n)))
    per_call=$(( (b - a + n / 2) / n ))
    limit=$(awk -v op="$op" '$1 == op { print $2 }' "$thresholds")
    counted[$op]=$per_call
    updated+=$'\n'"$op $per_call"
    if [ "${1:-}" = "--update" ]; then
        echo "instructions: $op $per_call per call"
    elif [ -z "$limit" ] || [ "$per_call" -gt "$limit" ]; then
        echo "instructions: $op $per_call per call, over the threshold ${limit:-none}: FAILED"
        status=1
    elif [ "$per_call" -lt "$limit" ]; then
        echo "instructions: $op $per_call per call (threshold $limit: better; update with --update)"
    else
        echo "instructions: $op $per_call per call (threshold $limit)"
    fi
done
# Every rule on may cost at most as much again as the core check a router
# runs (OrderRouter.placeOrder: from doubles, reserving, with its strategy).
# The fixed-point table check and reserve are reported against 2x too.
for op in router check reserve; do
    if [ "${counted[${op}_all_rules]}" -gt $((2 * ${counted[$op]})) ]; then
        if [ "$op" = router ]; then
            echo "instructions: ${op}_all_rules ${counted[${op}_all_rules]} is over 2 x $op (${counted[$op]}): FAILED"
            status=1
        else
            echo "instructions: ${op}_all_rules ${counted[${op}_all_rules]} is over 2 x $op (${counted[$op]}) (reported, not gated)"
        fi
    else
        echo "instructions: ${op}_all_rules ${counted[${op}_all_rules]} is within 2 x $op (${counted[$op]})"
    fi
done
if [ "${1:-}" = "--update" ]; then echo "$updated" >"$thresholds"; fi
# Each per-order rule alone, for the README's table of rules (reported, not gated).
for rule in qty notional collar stale restricted working; do
    a=$(count "reserve_rule_$rule" "$n")
    b=$(count "reserve_rule_$rule" $((2 * n)))
    echo "instructions: reserve with only the $rule rule on: $(( (b - a + n / 2) / n )) per call (reserve alone ${counted[reserve]})"
done
exit $status
