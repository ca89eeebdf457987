#!/usr/bin/env bash
# Install what Redline needs from Debian, only what is missing. Run as root.
set -euo pipefail
# liburing and libnuma: the engine. boost: the ring peer benchmark. spin: the
# model check. valgrind: the instruction gate. fio: the disk the journal is
# measured against (README, "The journal"). prometheus (with promtool) and curl:
# the operations end-to-end test (scripts/ops-e2e.sh). cmake and pkg-config:
# the C/C++ library build (CMakeLists.txt).
packages=(liburing-dev libnuma-dev libboost-dev spin valgrind fio prometheus curl cmake pkg-config)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! command -v swift >/dev/null 2>&1; then
    echo "error: swift is not on PATH (Redline needs Swift 6.3 or later)" >&2
    exit 1
fi
