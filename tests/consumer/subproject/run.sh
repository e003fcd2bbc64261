#!/usr/bin/env bash
# Builds the C++ program beside this script, which embeds tenantry as a CMake
# subproject (add_subdirectory), in Release, then runs it. It also checks that
# the subproject brings none of tenantry's own tests, benchmarks or demo, and
# no -Werror, into the program's build.
#
#   run.sh <build dir>
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)

rm -rf "$build"
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
if cmake --build "$build" --target help | grep -E '^(pmap_test|engine_test|tenantry_demo|check_bench)[:]'; then
  echo "subproject consumer: tenantry defined its own tests, benchmarks or demo above" >&2
  exit 1
fi
if ! /usr/bin/python3 - "$build/compile_commands.json" <<'PY'; then
import json, sys
ours = [c["file"] for c in json.load(open(sys.argv[1]))
        if not c["file"].endswith("/subproject/main.cc") and "-Werror" in c["command"].split()]
sys.exit(f"{len(ours)} of tenantry's files compile with -Werror, e.g. {ours[0]}" if ours else 0)
PY
  echo "subproject consumer: tenantry compiles with -Werror inside another project" >&2
  exit 1
fi
cmake --build "$build" -j "$(nproc)"
expected="carla may trigger runs in acme: 1; credits left: 35"
out=$("$build/app")
[ "$out" = "$expected" ] || { echo "subproject consumer printed: $out" >&2; exit 1; }
# Installing the program installs none of tenantry's files (TENANTRY_INSTALL
# is off in a subproject).
staged=$(mktemp -d)
trap 'rm -rf "$staged"' EXIT
cmake --install "$build" --prefix "$staged" >/dev/null
if [ -n "$(find "$staged" -type f | head -1)" ]; then
  echo "subproject consumer: installing the program installed tenantry's files:" >&2
  find "$staged" -type f >&2
  exit 1
fi
echo "subproject consumer: ok ($out)"
