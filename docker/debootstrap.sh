#!/bin/sh
# Build splitbrain's base root filesystem offline-from-a-registry: a minimal
# Debian made by debootstrap from the apt mirror the machine already uses.
#
#   debootstrap.sh ROOT SUITE MIRROR PACKAGES
#
# ROOT      empty directory to fill (the caller tars it and `docker import`s it)
# SUITE     Debian suite, e.g. bookworm
# MIRROR    mirror URL read from the machine's apt configuration by
#           harness/images.py (never hardcoded here)
# PACKAGES  comma-separated extra packages (python3,iptables,iproute2,procps,...)
#
# Needs root (debootstrap creates device nodes and chroots). The content hash
# of the base image covers this file, the suite and the package list, so any
# change here makes `splitbrain images build` produce a new base image.
set -eu

ROOT=$1
SUITE=$2
MIRROR=$3
PACKAGES=$4

debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOT" "$MIRROR"

# Fewer bytes to import and to copy-on-write: no package caches, docs or manuals.
chroot "$ROOT" apt-get clean
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin \
       "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/* \
       "$ROOT"/var/log/*.log "$ROOT"/var/log/apt/* "$ROOT"/tmp/*

mkdir -p "$ROOT"/opt/splitbrain "$ROOT"/var/lib/splitbrain "$ROOT"/var/log/splitbrain
