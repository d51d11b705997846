#!/usr/bin/env bash
# Set up and run splitbrain's test suite: install the package with its test
# extras, build the offline Docker images when an engine is reachable, run pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -e '.[test]'
if python3 -c 'import docker,sys; docker.from_env().ping()' >/dev/null 2>&1; then
  splitbrain images build
else
  echo "no Docker engine reachable: Docker tests will be skipped"
fi
python3 -m pytest -q -p no:cacheprovider "$@"
