#!/bin/sh
# Install the Debian packages for the one-node test cluster (tests/slurm/cluster.py).
# Idempotent: does nothing when all packages are already installed. Needs root (or sudo)
# and a Debian/Ubuntu apt. Not for real clusters: those are set up by their admins.
set -eu

PACKAGES="slurmctld slurmd slurm-client munge"

missing=""
for package in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $package"
    fi
done

if [ -z "$missing" ]; then
    echo "tests/slurm/install.sh: already installed: $PACKAGES"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1; then
    as_root="sudo -n"
else
    echo "tests/slurm/install.sh: missing:$missing; need root or sudo to install them" >&2
    exit 1
fi

echo "tests/slurm/install.sh: installing:$missing"
# `env` because sudo drops the caller's environment.
$as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086  # the package list is meant to split
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
