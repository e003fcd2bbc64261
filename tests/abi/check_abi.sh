#!/usr/bin/env bash
# Checks that the C ABI did not change by accident. Compares, with the files
# checked in beside this script:
#   libtenantry.symbols  the dynamic symbols libtenantry.so exports (nm -D);
#   tenantry.h.api       the header after the C preprocessor: one line per
#                        macro, prototype, struct and enum (comments dropped,
#                        whitespace normalized), so a changed struct layout,
#                        enum value or signature is a changed line;
# and checks that the header declares exactly the exported functions, that
# it compiles as C99/C11 and C++98/C++20 with -pedantic -Werror, and that
# the C test suite calls every function (comments do not count).
#
#   check_abi.sh <libtenantry.so> <tenantry.h> <C compiler> <C++ compiler> <capi_test.c> [--update]
#
# Any difference fails. Additions are recorded with --update in the same
# change; a changed or removed line breaks ABI 1 (tenantry.h's preamble says
# what may grow) and needs a new TNY_ABI_VERSION.
set -euo pipefail

lib=$1 header=$2 cc=$3 cxx=$4 test_c=$5 mode=${6:-check}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

nm -D --defined-only "$lib" | awk '{print $NF}' | LC_ALL=C sort > "$work/symbols"

# What tenantry.h itself declares (not the system headers it includes): each
# #define on its line; other text split at the semicolons outside braces.
"$cc" -std=c11 -E -dD -x c "$header" |
  awk -v h="$(basename "$header")" '
    function squeeze(s) { gsub(/[ \t]+/, " ", s); gsub(/ ;/, ";", s); sub(/^ /, "", s); sub(/ $/, "", s); return s }
    function flush(  i, c, piece) {
      piece = ""
      for (i = 1; i <= length(text); i++) {
        c = substr(text, i, 1)
        piece = piece c
        if (c == "{") depth++
        else if (c == "}") depth--
        else if (c == ";" && depth == 0) { piece = squeeze(piece); if (piece != ";") print piece; piece = "" }
      }
      text = piece
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
for pair in "libtenantry.symbols:symbols" "tenantry.h.api:api"; do
  expected=$here/${pair%%:*} actual=$work/${pair##*:}
  if ! diff -u "$expected" "$actual" > "$work/diff"; then
    cat "$work/diff"
    if grep -q '^-[^-]' "$work/diff"; then
      echo "FAIL: ${pair%%:*}: lines changed or removed. That breaks ABI 1 (unless it is an" >&2
      echo "      enum value appended or a field appended to a struct tenantry.h lets grow)." >&2
    else
      echo "FAIL: ${pair%%:*}: lines added. Record additions in the same change:" >&2
      echo "      bash tests/abi/check_abi.sh <lib> <header> <cc> <c++> <capi_test.c> --update" >&2
    fi
    status=1
  fi
done
((status == 0)) || exit 1

# Declared functions == exported functions.
grep -o '\btny_[a-z_0-9]* *(' "$work/api" | tr -d ' (' | grep -v '^tny_clock_fn$' |
  LC_ALL=C sort -u > "$work/declared"
sed -n 's/@@.*//p' "$work/symbols" | LC_ALL=C sort -u > "$work/exported"
if ! diff -u "$work/declared" "$work/exported"; then
  echo "FAIL: tenantry.h declares other functions than libtenantry.so exports." >&2
  exit 1
fi

# The header compiles in every language mode a consumer may use.
include=$(dirname "$(dirname "$header")")
printf '#include <tenantry/tenantry.h>\nint tny_abi_probe;\n' > "$work/probe.c"
for std in c99 c11; do
  "$cc" -std=$std -pedantic -Wall -Wextra -Werror -fsyntax-only -I"$include" "$work/probe.c"
done
for std in c++98 c++11 c++20; do
  "$cxx" -x c++ -std=$std -pedantic -Wall -Wextra -Werror -fsyntax-only -I"$include" "$work/probe.c"
done

# Every function is called by the C suite (comments stripped first).
perl -0777 -pe 's{/\*.*?\*/}{}gs; s{//[^\n]*}{}g' "$test_c" > "$work/test.c"
missing=0
while read -r fn; do
  if ! grep -q "\b$fn *(" "$work/test.c"; then
    echo "FAIL: $fn is never called by $(basename "$test_c")" >&2
    missing=1
  fi
done < "$work/exported"
((missing == 0)) || exit 1
echo "ABI unchanged: $(wc -l < "$work/exported") functions, $(wc -l < "$work/api") declarations."
