#!/usr/bin/env bash
# The main job: the three risk scenarios, narrated, then a 10-second load test
# of the full pipeline with the pinned risk thread and its summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product redline
.build/release/redline demo
echo
exec .build/release/redline loadtest --duration 10 --freezes 100 "$@"
