#!/usr/bin/env bash
# The load test: 10 s of the full pipeline with the pinned risk thread, then a
# summary table. Extra arguments go to `redline loadtest` (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product redline
exec .build/release/redline loadtest "$@"
