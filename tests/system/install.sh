#!/usr/bin/env bash
# Install the Debian packages listed in tests/system/apt-packages.txt when any is missing.
# `make test` runs this before pytest. It needs root (CI runs as root); elsewhere it only
# reports what is missing, and the tests that need those programs say so when they fail.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mapfile -t packages < <(grep -v '^\s*#' "$here/apt-packages.txt" | awk 'NF {print $1}')
[ "${#packages[@]}" -eq 0 ] && exit 0
missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "tests/system/install.sh: missing Debian packages: ${missing[*]} (need root and apt-get" \
         "to install them; the tests that use them will fail)" >&2
    exit 0
fi
echo "Installing Debian packages for the tests: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
