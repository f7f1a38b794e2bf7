#!/usr/bin/env bash
# Acceptance test of Segment-compatible collection with a real client library: Segment's
# own analytics-python (PyPI segment-analytics-python) sends identify, track, page, screen,
# group and alias to a real hub-server process, plain and gzipped; the test reads them
# back from the device event stream and replays the batches.
#
#   tests/segment/run.sh
#
# Needs target/debug/hub-server (cargo build -p hub-server; HUB_SERVER_BIN overrides) and
# python3 with venv. The library is installed into a venv under target/ the first time
# and again only when requirements.txt changes. Ends with "N passed, M failed".
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
export HUB_SERVER_BIN=${HUB_SERVER_BIN:-$ROOT/target/debug/hub-server}
VENV=$ROOT/target/segment-venv

fail() {
  echo "tests/segment: $*" >&2
  echo "0 passed, 1 failed"
  exit 1
}

[ -x "$HUB_SERVER_BIN" ] || fail "missing $HUB_SERVER_BIN (cargo build -p hub-server)"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV" || fail "cannot create a venv (apt-get install python3-venv)"
fi
if ! cmp -s tests/segment/requirements.txt "$VENV/.requirements"; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r tests/segment/requirements.txt \
    || fail "cannot install tests/segment/requirements.txt"
  cp tests/segment/requirements.txt "$VENV/.requirements"
fi
exec "$VENV/bin/python" tests/segment/test_analytics_python.py
