#!/usr/bin/env bash
# Installs the build into a temporary prefix, then builds and runs the same
# small C program twice, as a user would: with `pkg-config --cflags --libs
# tenantry`, and with CMake's `find_package(tenantry)`.
#
#   run.sh <build dir> <C compiler>
set -euo pipefail
build=$1 cc=$2
here=$(cd "$(dirname "$0")" && pwd)
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT

cmake --install "$build" --prefix "$prefix" > /dev/null
pcdir=$(dirname "$(find "$prefix" -name tenantry.pc)")
expected="alice may view contacts in the client shop: 1"

# 1. pkg-config (the run path is the consumer's choice; here -rpath).
flags=$(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs tenantry)
libdir=$(PKG_CONFIG_PATH=$pcdir pkg-config --variable=libdir tenantry)
"$cc" -std=c11 -Wall -Wextra -Werror -pedantic "$here/hello.c" $flags \
  -Wl,-rpath,"$libdir" -o "$prefix/hello-pkgconfig"
out=$("$prefix/hello-pkgconfig")
grep -qx "$expected" <<< "$out" || { echo "pkg-config consumer printed: $out" >&2; exit 1; }
echo "pkg-config consumer: ok"

# 2. find_package(tenantry).
cmake -S "$here" -B "$prefix/consumer" -G Ninja -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_PREFIX_PATH="$prefix" > /dev/null
cmake --build "$prefix/consumer" > /dev/null
out=$("$prefix/consumer/hello")
grep -qx "$expected" <<< "$out" || { echo "find_package consumer printed: $out" >&2; exit 1; }
echo "find_package consumer: ok"
echo "$out"
