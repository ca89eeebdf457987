#!/usr/bin/env bash
# The main job: the three risk scenarios through the real engine, narrated.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product redline
exec .build/release/redline demo "$@"
