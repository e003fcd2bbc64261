#!/usr/bin/env bash
# Checks that the C ABI did not change by accident. Compares, with the files
# checked in beside this script:
#   libtenantry.symbols  the dynamic symbols libtenantry.so exports (nm -D);
#   tenantry.h.api       the header after the preprocessor: every prototype,
#                        struct, enum and macro, whitespace-normalized;
# and checks that the header declares exactly the exported functions and
# that the C test suite (tests/capi/capi_test.c) calls every one of them.
#
#   check_abi.sh <libtenantry.so> <tenantry.h> <C compiler> <capi_test.c> [--update]
#
# An addition is fine but must be recorded in the same change (--update);
# a removal or a changed signature or layout breaks ABI 1 (tenantry.h says
# what may change).
set -euo pipefail

lib=$1 header=$2 cc=$3 test_c=$4 mode=${5:-check}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

nm -D --defined-only "$lib" | awk '{print $NF}' | LC_ALL=C sort > "$work/symbols"

# Keep only what tenantry.h itself says (not the system headers it includes).
"$cc" -std=c11 -E -dD -x c "$header" |
  awk -v h="$(basename "$header")" '
    function squeeze(s) { gsub(/[ \t]+/, " ", s); sub(/^ /, "", s); sub(/ $/, "", s); return s }
    function flush(  n, i, parts, piece) {
      n = split(text, parts, ";")
      for (i = 1; i < n; i++) { piece = squeeze(parts[i]); if (piece != "") print piece ";" }
      text = parts[n]
    }
    /^# [0-9]+ "/ { keep = (index($3, h) > 0); next }
    !keep { next }
    /^#define / { flush(); print squeeze($0); next }
    /^#undef / { next }
    { text = text " " $0 }
    END { flush(); if (squeeze(text) != "") print squeeze(text) }' > "$work/api"

if [[ $mode == --update ]]; then
  cp "$work/symbols" "$here/libtenantry.symbols"
  cp "$work/api" "$here/tenantry.h.api"
  echo "updated $here/libtenantry.symbols and $here/tenantry.h.api"
  exit 0
fi

status=0
if ! diff -u "$here/libtenantry.symbols" "$work/symbols"; then
  echo "FAIL: libtenantry.so exports other symbols than tests/abi/libtenantry.symbols." >&2
  status=1
fi
if ! diff -u "$here/tenantry.h.api" "$work/api"; then
  echo "FAIL: tenantry.h differs from tests/abi/tenantry.h.api." >&2
  status=1
fi
if ((status)); then
  echo "Additions: record them with 'tests/abi/check_abi.sh ... --update' in the same change." >&2
  echo "Removals and changed signatures or layouts break ABI ${TNY_ABI:-1}: don't." >&2
  exit 1
fi

# Declared functions == exported functions.
grep -o '\btny_[a-z_0-9]* *(' "$work/api" | tr -d ' (' | grep -v '^tny_clock_fn$' |
  LC_ALL=C sort -u > "$work/declared"
sed -n 's/@@.*//p' "$work/symbols" | LC_ALL=C sort -u > "$work/exported"
if ! diff -u "$work/declared" "$work/exported"; then
  echo "FAIL: tenantry.h declares other functions than libtenantry.so exports." >&2
  exit 1
fi
# Every function is exercised by the C suite.
missing=0
while read -r fn; do
  if ! grep -q "\b$fn *(" "$test_c"; then
    echo "FAIL: $fn is never called by $(basename "$test_c")" >&2
    missing=1
  fi
done < "$work/exported"
((missing == 0)) || exit 1
echo "ABI unchanged: $(wc -l < "$work/exported") functions, $(wc -l < "$work/api") declarations."
