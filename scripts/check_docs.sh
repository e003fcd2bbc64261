#!/usr/bin/env bash
# Checks that the repository is its own reference (run by scripts/test.sh;
# about a second, no network):
#   1. no file tracked in git points at the internal documents that live
#      beside the repository (the product specification, its seed pages and
#      research notes): its readers do not have them;
#   2. every rule id an engine message names (a string literal in core/,
#      capi/, snapshots/ or python/ holding "(T3)", "(C5, C6)", "(A1-A3)",
#      ", P2)", or a bare "M6" handed to a helper that formats the message)
#      has its line in docs/rules.md ("- **T3** ...");
#   3. no status is made with its rule ids written into the message by hand
#      ("(T3)" at the end of an absl::...Error(...)'s message, or of the
#      message of the Python package's _invalid): tenantry::Refusal appends
#      them and carries them as the status's payload (tenantry/status.h),
#      which C++ (RulesOf), C (tny_last_error_rules) and Python (Error.rules)
#      read. The tests check the same at run time: every refusal they see
#      carries exactly the ids its message ends with (TNY_EXPECT_REFUSED,
#      TNY_EXPECT_RULES_CARRIED, tests/python/conftest.py's assert_refused).
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

# ---- 3. Rule ids are made by Refusal, so that they are the payload too ----
# A call whose message (the last string of its arguments) ends with a rule
# bracket, literally or as " (", rule, ")".
by_hand=$(
  {
    git ls-files -z -- 'core/*.cc' 'core/*.h' 'capi/*.cc' 'snapshots/*.cc' 'snapshots/*.h' \
      'python/*.cc' 'python/*.h' |
      xargs -0 perl -0777 -ne '
        while (/\babsl::(?:\w+Error|Status)\s*\(((?:[^;"]|"(?:[^"\\]|\\.)*")*?)\)\s*;/g) {
          my ($args, $at) = ($1, $-[0]);
          next unless $args =~ /\([A-Z][0-9]{1,2}(?:, [A-Z][0-9]{1,2})*\)"[\s)]*$/ ||
                      $args =~ /" \(",\s*\w+,\s*"\)"[\s)]*$/;
          print "$ARGV:", 1 + (substr($_, 0, $at) =~ tr/\n//), "\n";
        }'
    git grep -n -E '_invalid\(f?"[^"]*\([A-Z][0-9]{1,2}(, [A-Z][0-9]{1,2})*\)"\)' -- 'python/*.py' |
      cut -d: -f1,2 || true
  }
)
if [[ -n $by_hand ]]; then
  echo "check_docs: these statuses write their rule ids into the message by hand; make them" \
    "with tenantry::Refusal(code, {\"T3\"}, message) (Python: _invalid(message, \"A6\"))," \
    "so that the ids are also the status's payload:" >&2
  sed 's/^/  /' <<<"$by_hand" >&2
  status=1
fi

if [[ $status -eq 0 ]]; then
  echo "check_docs: ok (nothing points outside the repository; $checked rule ids named" \
    "in messages, all among the ${#listed[@]} of $rules; every rule id made by Refusal)"
fi
exit "$status"
