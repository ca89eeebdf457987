#!/usr/bin/env bash
# The soak: races at the limits (Tests/C/boundary_races.c) for ATTEMPTS
# reservations in each of 2, 4 and 8 checker threads against one symbol and
# four, with the detector checking the invariants after every accept.
#
#   scripts/soak.sh [ATTEMPTS]     default 100000000 per configuration
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >/dev/null
attempts=${1:-100000000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -std=c11 -O2 -D_GNU_SOURCE -ICSources/RedlineCore/include Tests/C/boundary_races.c CSources/RedlineCore/rl_*.c \
    -luring -lnuma -lpthread -lm -o "$work/boundary_races"
status=0
for threads in 2 4 8; do
    for symbols in 1 4; do
        start=$(date +%s)
        "$work/boundary_races" "$threads" "$symbols" "$attempts" $((threads * 10 + symbols)) || status=1
        echo "  ($(( $(date +%s) - start )) s)"
    done
done
exit $status
