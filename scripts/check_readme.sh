#!/usr/bin/env bash
# Runs README.md's examples exactly as written, the blocks taken from the
# README itself (scripts/readme_blocks.py), so that a newcomer's path cannot
# drift from what CI proves.
#
#   check_readme.sh c              "## Example (C)": its install command from
#                                  the repository root (a fresh build/release
#                                  and /opt/tenantry), then hello.c and its
#                                  compile-and-run block in an empty directory
#   check_readme.sh python         "## Example (Python)": its install block
#                                  from the repository root (a fresh .venv;
#                                  the pip build reuses build/pip-*), then its
#                                  python block, run by .venv/bin/python in an
#                                  empty directory
#   check_readme.sh replicas       "## Replicas": its block from the
#                                  repository root (after `python`, whose
#                                  .venv it uses): a throwaway PostgreSQL,
#                                  two replicas, a change made on one checked
#                                  on the other
#
# The C part leaves build/release built, so that CI runs its tests next
# (`ctest --preset release`) without building -O3 twice, and fails if the
# build printed any warning: the user's command has no -Werror (a newer
# compiler must not break an install), so CI reads its log instead.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

block() {  # block HEADING LANG N: the README's block, exactly as written
  /usr/bin/python3 "$root/scripts/readme_blocks.py" "$root/README.md" "$@"
}

check_c() {
  local install compile
  install=$(block "Example (C)" sh 1)
  compile=$(block "Example (C)" sh 2)
  [[ $install == *"--prefix /opt/tenantry"* ]] ||
    { echo "check_readme: the C install command no longer installs into /opt/tenantry" >&2; exit 1; }
  # A newcomer has neither a build nor an install: a stale one would hide a
  # file this build no longer makes, and an incremental build would not
  # print the warnings of what it does not recompile.
  rm -rf build/release
  if [ "$(id -u)" -eq 0 ]; then
    rm -rf /opt/tenantry
  elif command -v sudo >/dev/null; then
    sudo rm -rf /opt/tenantry
    sudo install -d -o "$(id -u)" -g "$(id -g)" /opt/tenantry
  else
    echo "check_readme: the README installs into /opt/tenantry, which needs root or sudo" >&2
    exit 1
  fi

  echo "== tenantry README: Example (C), its install command"
  local log=build/readme-install.log
  mkdir -p build
  # As many compile jobs as the other stages use (Ninja's default is more).
  CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)} bash -e -c "$install" 2>&1 | tee "$log"
  if grep -n "warning:" "$log" >&2; then
    echo "check_readme: the release build printed the warnings above (whole log: $log)" >&2
    exit 1
  fi

  echo "== tenantry README: Example (C), hello.c compiled and run in an empty directory"
  local dir out
  dir=$(mktemp -d)
  # shellcheck disable=SC2064 # the directory now: `dir` is local
  trap "rm -rf '$dir'" EXIT
  block "Example (C)" c 1 >"$dir/hello.c"
  # A newcomer's shell: no pkg-config path of ours.
  out=$(cd "$dir" && env -u PKG_CONFIG_PATH bash -e -c "$compile")
  echo "$out"
  local expected=$'^1\nrefused: .*insufficient credits.*\\(C5\\)$'
  if ! [[ $out =~ $expected ]]; then
    echo "check_readme: hello printed the above, not '1' then 'refused: ... insufficient credits (C5)'" >&2
    exit 1
  fi
}

check_python() {
  local install dir
  install=$(block "Example (Python)" sh 1)
  [[ $install == *".venv/bin/pip install"* ]] ||
    { echo "check_readme: the Python install block no longer installs into .venv" >&2; exit 1; }
  echo "== tenantry README: Example (Python), its install block"
  rm -rf .venv
  bash -e -c "$install"
  echo "== tenantry README: Example (Python), run in an empty directory"
  dir=$(mktemp -d)
  # shellcheck disable=SC2064 # the directory now: `dir` is local
  trap "rm -rf '$dir'" EXIT
  block "Example (Python)" python 1 >"$dir/example.py"
  (cd "$dir" && "$root/.venv/bin/python" example.py)
}

check_replicas() {
  local commands out
  commands=$(block "Replicas" sh 1)
  [[ -x .venv/bin/python ]] ||
    { echo "check_readme: the Replicas block needs the Python example's .venv (run 'python' first)" >&2; exit 1; }
  echo "== tenantry README: Replicas, its block from the repository root"
  out=$(bash -e -c "$commands")
  echo "$out"
  if [[ $out != "True" ]]; then
    echo "check_readme: the Replicas block printed the above, not 'True'" >&2
    exit 1
  fi
}
case "${1:-}" in
  c) check_c ;;
  python) check_python ;;
  replicas) check_replicas ;;
  *)
    echo "usage: check_readme.sh c | python | replicas" >&2
    exit 2
    ;;
esac
