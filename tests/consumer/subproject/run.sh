#!/usr/bin/env bash
# Builds the C++ program beside this script, which embeds tenantry as a CMake
# subproject, in Release, then runs it: once through add_subdirectory and
# once through FetchContent from the local source tree. It also checks that
# the subproject brings none of tenantry's own tests, benchmarks or demo, no
# -Werror and no install rules into the program's build.
#
#   run.sh <build dir>
set -euo pipefail
build_root=$1
here=$(cd "$(dirname "$0")" && pwd)
staged=$(mktemp -d)
trap 'rm -rf "$staged"' EXIT

check_embed() {  # check_embed add_subdirectory|FetchContent BUILD
  local embed=$1 build=$2 out
  rm -rf "$build"
  cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DTENANTRY_EMBED="$embed" >/dev/null
  if cmake --build "$build" --target help | grep -E '^(pmap_test|engine_test|tenantry_demo|check_bench)[:]'; then
    echo "subproject consumer ($embed): tenantry defined its own tests, benchmarks or demo above" >&2
    exit 1
  fi
  if ! /usr/bin/python3 - "$build/compile_commands.json" <<'PY'; then
import json, sys
ours = [c["file"] for c in json.load(open(sys.argv[1]))
        if not c["file"].endswith("/subproject/main.cc") and "-Werror" in c["command"].split()]
sys.exit(f"{len(ours)} of tenantry's files compile with -Werror, e.g. {ours[0]}" if ours else 0)
PY
    echo "subproject consumer ($embed): tenantry compiles with -Werror inside another project" >&2
    exit 1
  fi
  cmake --build "$build" -j "$(nproc)"
  local expected="carla may trigger runs in acme: 1; credits left: 35"
  out=$("$build/app")
  [ "$out" = "$expected" ] || { echo "subproject consumer ($embed) printed: $out" >&2; exit 1; }
  # Installing the program installs none of tenantry's files (TENANTRY_INSTALL
  # is off in a subproject).
  rm -rf "${staged:?}/$embed"
  cmake --install "$build" --prefix "$staged/$embed" >/dev/null
  if [ -n "$(find "$staged/$embed" -type f 2>/dev/null | head -1)" ]; then
    echo "subproject consumer ($embed): installing the program installed tenantry's files:" >&2
    find "$staged/$embed" -type f >&2
    exit 1
  fi
  echo "subproject consumer ($embed): ok ($out)"
}

check_embed add_subdirectory "$build_root/add_subdirectory"
check_embed FetchContent "$build_root/FetchContent"
