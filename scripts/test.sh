#!/usr/bin/env bash
# Set up and run splitbrain's test suite, on a fresh machine as on a developer's.
#
# 1. System tools. As root with apt-get, installs what is missing: debootstrap
#    (builds the Docker backend's offline base image), chromium (the report's
#    browser tests), iptables (the netns backend's faults; Docker nodes carry
#    their own in the image), faketime (the clock nemesis's libfaketime),
#    redis-server and redis-sentinel (the Redis
#    Sentinel example target), python3-venv (when the system Python is
#    externally managed, as Debian 12's is). Without root or apt-get nothing is
#    installed and the tests that need a missing tool are skipped; the run
#    ends with one line per reason ("skipped N: why", tests/conftest.py).
# 2. The package with its test extras (`pip install -e .[test]`), into the
#    active virtualenv, else into the system Python, else (externally managed)
#    into ./.venv.
# 3. The Docker images, when an engine answers and they can be built here
#    (root and debootstrap, or a base image already in the engine). A build that
#    should work and fails stops the script: CI must see it.
# 4. pytest, with any arguments given (`bash scripts/test.sh -k docker -x`).
set -euo pipefail
cd "$(dirname "$0")/.."

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }
is_root() { [ "$(id -u)" -eq 0 ]; }

# Debian's system Python refuses `pip install` outside a virtualenv (PEP 668).
externally_managed() {
  python3 - <<'EOF'
import sys, sysconfig, pathlib
in_venv = sys.prefix != sys.base_prefix
marker = pathlib.Path(sysconfig.get_path("stdlib")) / "EXTERNALLY-MANAGED"
sys.exit(0 if (not in_venv and marker.exists()) else 1)
EOF
}

echo "== system tools"
need=()
have debootstrap || need+=(debootstrap)
have chromium || have chromium-browser || have google-chrome || need+=(chromium)
have iptables || need+=(iptables)
have faketime || need+=(faketime)
have redis-server || need+=(redis-server)
have redis-sentinel || need+=(redis-sentinel)
use_venv=0
if ! [ -x .venv/bin/python ] && externally_managed; then
  use_venv=1
  python3 -c 'import ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
fi
if [ ${#need[@]} -eq 0 ]; then
  echo "all present (debootstrap, chromium, iptables, faketime, redis)"
elif is_root && have apt-get; then
  echo "installing with apt-get: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
else
  why="not root"; is_root && why="no apt-get"
  echo "missing ${need[*]}, not installed ($why): the tests that need them are skipped, each with its reason"
fi

echo "== python package"
py=python3
if [ -x .venv/bin/python ] || [ "$use_venv" -eq 1 ]; then
  if ! [ -x .venv/bin/python ] && ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    echo "cannot install the package: the system Python is externally managed and python3-venv is" \
         "missing; install it as root (apt-get install python3-venv) or activate a virtualenv, then rerun" >&2
    exit 4
  fi
  [ -x .venv/bin/python ] || python3 -m venv .venv
  py="$PWD/.venv/bin/python"
  export PATH="$PWD/.venv/bin:$PATH"
  echo "using the virtualenv .venv (the system Python is externally managed)"
fi
"$py" -m pip install -q -e '.[test]'

echo "== docker images"
if ! "$py" -c 'import docker; docker.from_env(timeout=10).ping()' >/dev/null 2>&1; then
  echo "no Docker engine reachable: the Docker tests are skipped"
elif is_root && have debootstrap; then
  "$py" -m harness.cli images build
elif "$py" -c 'import docker, harness.images as i; docker.from_env().images.get(i.base_tag())' >/dev/null 2>&1; then
  "$py" -m harness.cli images build   # the base image exists: only the target images are (re)built
else
  echo "base image not built (needs root and debootstrap): the Docker tests are skipped"
fi

echo "== tests"
exec "$py" -m pytest -q -p no:cacheprovider "$@"
