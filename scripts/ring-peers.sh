#!/usr/bin/env bash
# Redline's SPSC ring beside boost::lockfree::spsc_queue and, given the
# directory of a copy of rigtorp/SPSCQueue fetched outside the project,
# rigtorp::SPSCQueue: one process, one run (Benchmarks/RingPeers).
#
#   scripts/ring-peers.sh [RIGTORP_DIR] [SAMPLES] [ITEMS]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >/dev/null
rigtorp=${1:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
include=()
if [ -n "$rigtorp" ]; then include=(-I "$rigtorp/include"); fi
for f in CSources/RedlineCore/rl_*.c; do
    cc -std=c11 -O2 -D_GNU_SOURCE -ICSources/RedlineCore/include -c "$f" -o "$work/$(basename "$f").o"
done
g++ -std=c++2b -O2 -D_GNU_SOURCE -ICSources/RedlineCore/include "${include[@]}" Benchmarks/RingPeers/ring_peers.cpp \
    "$work"/rl_*.o -luring -lnuma -lpthread -lm -o "$work/ring_peers"
"$work/ring_peers" "${2:-30}" "${3:-1000000}"
