#!/usr/bin/env bash
# Checks that the repository is its own reference (run by scripts/test.sh;
# about a second, no network):
#   1. no file tracked in git points at the internal documents that live
#      beside the repository (the product specification, its seed pages and
#      research notes): its readers do not have them;
#   2. every rule id an engine message names (a string literal in core/,
#      capi/, snapshots/ or python/ holding "(T3)", "(C5, C6)", "(A1-A3)",
#      ", P2)", or a bare "M6" handed to a helper that formats the message)
#      has its line in docs/rules.md ("- **T3** ...").
# Each problem is printed as file:line; the exit status is 1 if there is any.
set -euo pipefail
cd "$(dirname "$0")/.."
git rev-parse --is-inside-work-tree >/dev/null  # git grep below needs a checkout

status=0

# ---- 1. References to documents outside the repository ----
# Written so that this file does not match itself.
outside='\.\./shared|shared/(SPEC|seeds)'
found=0
hits=$(git grep -n -I -E "$outside") || found=$?
if [[ $found -gt 1 ]]; then
  echo "check_docs: git grep failed" >&2
  exit 2
elif [[ $found -eq 0 ]]; then
  echo "check_docs: these lines point outside the repository; point them at docs/rules.md" \
    "or say what they mean:" >&2
  sed 's/^/  /' <<<"$hits" >&2
  status=1
fi

# ---- 2. Rule ids named by messages are listed in docs/rules.md ----
rules=docs/rules.md
if [[ ! -f $rules ]]; then
  echo "check_docs: $rules is missing" >&2
  exit 1
fi
declare -A listed=()
while IFS= read -r id; do
  listed[$id]=1
done < <(sed -n -E 's/^- \*\*([A-Z][0-9]{1,2})\*\*( .*)?$/\1/p' "$rules")

id_re='[A-Z][0-9]{1,2}'
group_re="\\(($id_re((, ?|-)$id_re)*)"   # "(T3", "(C5, C6", "(A1-A3"
tail_re=", ($id_re)\\)"                    # ", P2)" appended to a message
bare_re="^[\"']($id_re)[\"']\$"            # "M6"

# Prints the rule ids one literal names, one a line.
ids_of() {
  local text=$1 group
  if [[ $text =~ $bare_re ]]; then
    echo "${BASH_REMATCH[1]}"
    return
  fi
  while [[ $text =~ $group_re ]]; do
    group=${BASH_REMATCH[1]}
    text=${text#*"${BASH_REMATCH[0]}"}
    while [[ $group =~ $id_re ]]; do
      echo "${BASH_REMATCH[0]}"
      group=${group#*"${BASH_REMATCH[0]}"}
    done
  done
  text=$1
  while [[ $text =~ $tail_re ]]; do
    echo "${BASH_REMATCH[1]}"
    text=${text#*"${BASH_REMATCH[0]}"}
  done
}

missing=0 checked=0
# file:line:literal for every string literal that may name a rule: C, C++
# and Python double-quoted ones, and Python single-quoted ones.
while IFS= read -r hit; do
  file=${hit%%:*}
  rest=${hit#*:}
  line=${rest%%:*}
  literal=${rest#*:}
  while IFS= read -r id; do
    [[ -z $id ]] && continue
    checked=$((checked + 1))
    [[ -n ${listed[$id]+x} ]] && continue
    echo "check_docs: $file:$line: rule id $id is named in a string but not listed in $rules" >&2
    missing=1
  done < <(ids_of "$literal" | sort -u)
done < <(
  {
    git grep -n -I -o -E '"([^"\\]|\\.)*"' -- core capi snapshots python
    git grep -n -I -o -E "'([^'\\\\]|\\\\.)*'" -- 'python/*.py'
  } | grep -E "[(,] ?$id_re|[\"']$id_re[\"']" || true
)
[[ $missing -eq 0 ]] || status=1
if [[ $checked -eq 0 ]]; then
  echo "check_docs: found no rule id in any message: the scan itself is broken" >&2
  status=1
fi

if [[ $status -eq 0 ]]; then
  echo "check_docs: ok (nothing points outside the repository; $checked rule ids named" \
    "in messages, all among the ${#listed[@]} of $rules)"
fi
exit "$status"
