#!/usr/bin/env bash
# The C library as a C or C++ shop consumes it: CMake builds libredline_core
# (static and shared) and the examples (C; C++17, 20, 23) and runs them as
# tests; it installs into a prefix; then the C and C++17 examples are built
# outside the tree against the installed library through pkg-config, once
# shared and once static, and run.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake -S . -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$work/prefix" > "$work/configure.log" \
    || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/build" -j2 > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
ctest --test-dir "$work/build" --output-on-failure
cmake --install "$work/build" > /dev/null
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
echo "pkg-config redline_core $(pkg-config --modversion redline_core): $(pkg-config --cflags --libs redline_core)"
libdir=$(pkg-config --variable=libdir redline_core)
# Shared.
cc -O2 Examples/c_strategy.c $(pkg-config --cflags --libs redline_core) -o "$work/c_shared"
c++ -std=c++17 -O2 Examples/cpp_strategy.cpp $(pkg-config --cflags --libs redline_core) -o "$work/cpp_shared"
LD_LIBRARY_PATH="$libdir" "$work/c_shared" | tail -1
LD_LIBRARY_PATH="$libdir" "$work/cpp_shared" | tail -1
grep -q "libredline_core.so" <<<"$(ldd "$work/c_shared")" || { echo "not linked to the shared library" >&2; exit 1; }
# Static: the archive, and its private dependencies from pkg-config --static.
cc -O2 Examples/c_strategy.c $(pkg-config --cflags redline_core) "$libdir/libredline_core.a" \
    $(pkg-config --static --libs redline_core | sed 's/-lredline_core//') -o "$work/c_static"
"$work/c_static" | tail -1
if grep -q libredline_core <<<"$(ldd "$work/c_static")"; then echo "the static build links the shared library" >&2; exit 1; fi
echo "cmake-check: ok"
