#!/usr/bin/env bash
# Installs the Debian packages tenantry needs, only those missing.
# Idempotent and quiet when everything is already there.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git clang libclang-rt-14-dev
  libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev
  libflatbuffers-dev flatbuffers-compiler flatbuffers-compiler-dev liburcu-dev libsodium-dev
  libsqlite3-dev sqlite3
  libpq-dev postgresql-15
  python3 python3-dev python3-venv python3-pip python3-setuptools python3-wheel
  python3-pytest python3-pybind11 pybind11-dev python3-numpy
  python3-hypothesis python3-mypy python3-matplotlib python3-psycopg2
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "tenantry: installing missing Debian packages: ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
