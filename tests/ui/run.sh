#!/usr/bin/env bash
# WebDriver suite for the desktop app: the real binary in WebKitGTK under Xvfb,
# driven through tauri-driver + WebKitWebDriver with Python selenium.
#
#   tests/ui/run.sh [test_name ...]
#
# Needs (make test / scripts install them): target/debug/customer-hub built with
# ui/dist in place, target/debug/hub, target/debug/hub-server, xvfb-run, dbus-run-session,
# WebKitWebDriver, ImageMagick, python3 with venv, and tauri-driver on PATH or
# in .tools/bin (cargo install tauri-driver --locked --root .tools).
#
# Env: APP, HUB_BIN, HUB_SERVER_BIN override the binaries; SCREENSHOTS_DIR=docs/screenshots
# also refreshes the README screenshots. Screenshots of every run go to
# tests/ui/artifacts/. Ends with "N passed, M failed"; non-zero on any failure.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

export APP=${APP:-$ROOT/target/debug/customer-hub}
export HUB_BIN=${HUB_BIN:-$ROOT/target/debug/hub}
export HUB_SERVER_BIN=${HUB_SERVER_BIN:-$ROOT/target/debug/hub-server}
export ARTIFACTS=$ROOT/tests/ui/artifacts
VENV=$ROOT/tests/ui/.venv

fail() {
  echo "tests/ui: $*" >&2
  echo "0 passed, 1 failed"
  exit 1
}

[ -x "$APP" ] || fail "missing $APP (build it: npm --prefix ui ci && npm --prefix ui run build && cargo build -p customer-hub)"
[ -x "$HUB_BIN" ] || fail "missing $HUB_BIN (cargo build -p hub-cli)"
[ -x "$HUB_SERVER_BIN" ] || fail "missing $HUB_SERVER_BIN (cargo build -p hub-server)"
for tool in xvfb-run dbus-run-session WebKitWebDriver /usr/bin/import /usr/bin/convert; do
  command -v "$tool" >/dev/null || fail "missing $tool (apt-get install xvfb xauth dbus webkit2gtk-driver imagemagick)"
done

DRIVER=$(command -v tauri-driver || true)
[ -n "$DRIVER" ] || DRIVER=$ROOT/.tools/bin/tauri-driver
[ -x "$DRIVER" ] || fail "missing tauri-driver (cargo install tauri-driver --locked --root .tools)"

# Python venv with the pinned selenium, reinstalled only when requirements change.
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV" || fail "cannot create a venv (apt-get install python3-venv)"
fi
if ! cmp -s tests/ui/requirements.txt "$VENV/.requirements"; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r tests/ui/requirements.txt
  cp tests/ui/requirements.txt "$VENV/.requirements"
fi

# A fresh, private world for the app: its own database, data and runtime dirs.
WORK=$(mktemp -d -t customer-hub-ui.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/data" "$WORK/runtime" "$WORK/config"
chmod 700 "$WORK/runtime" "$WORK/config"
# The database sits where the app would put it by default under this data dir.
export XDG_DATA_HOME=$WORK/data
export HUB_DB=$XDG_DATA_HOME/customer-hub/hub.db
export XDG_RUNTIME_DIR=$WORK/runtime
# Sync tokens (the sign-in's "keep the token in a file"; the session has no
# keyring) go here, for the app (tauri-driver passes its env on) and the CLI.
export HUB_CONFIG_DIR=$WORK/config
unset HUB_TOKEN
export NO_AT_BRIDGE=1
rm -rf "$ARTIFACTS"
mkdir -p "$ARTIFACTS"

# Free ports, so a second run (or anything else on 4444) does not collide.
read -r PORT NATIVE_PORT < <("$VENV/bin/python" - <<'EOF'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
for s in socks:
    s.close()
EOF
)
export PORT NATIVE_PORT DRIVER VENV
export DRIVER_URL=http://127.0.0.1:$PORT

echo "tests/ui: app $APP, database $HUB_DB, tauri-driver on port $PORT"

# Order matters: the X server first, then a session bus that can see $DISPLAY.
set +e
xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- bash -c '
  "$DRIVER" --port "$PORT" --native-port "$NATIVE_PORT" >"$ARTIFACTS/tauri-driver.log" 2>&1 &
  driver=$!
  stop() { kill "$driver" 2>/dev/null; wait "$driver" 2>/dev/null; }
  trap stop EXIT
  for _ in $(seq 300); do
    (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    kill -0 "$driver" 2>/dev/null || { cat "$ARTIFACTS/tauri-driver.log" >&2; echo "0 passed, 1 failed"; exit 1; }
    sleep 0.1
  done
  "$VENV/bin/python" -u tests/ui/test_app.py "$@"
' tests-ui "$@" 2>&1 | grep --line-buffered -v -E "dbus-daemon|SpiRegistry daemon|Failed to set fd limit|Activating service name|Successfully activated service"
status=${PIPESTATUS[0]}
set -e
exit "$status"
