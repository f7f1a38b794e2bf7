#!/usr/bin/env bash
# WebDriver suite for the desktop app: the real binary in WebKitGTK under Xvfb,
# driven through tauri-driver + WebKitWebDriver with Python selenium.
#
#   tests/ui/run.sh [test_name ...]
#
# Runs every tests/ui/test_*.py (test_app.py first), each against its own fresh
# database and its own tauri-driver; test names given select tests in every file.
#
# Needs (make test / scripts install them): target/debug/customer-hub built with
# ui/dist in place, target/debug/hub, target/debug/hub-server, xvfb-run, dbus-run-session,
# WebKitWebDriver, ImageMagick, python3 with venv, and tauri-driver on PATH or
# in .tools/bin (cargo install tauri-driver --locked --root .tools).
#
# Env: APP, HUB_BIN, HUB_SERVER_BIN override the binaries; SCREENSHOTS_DIR=docs/screenshots
# also refreshes the README screenshots. Screenshots of every run go to
# tests/ui/artifacts/, with each file's output. Ends with "all files: N passed, M failed";
# non-zero on any failure.
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
FREE_PORTS='
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
for s in socks:
    s.close()
'
export FREE_PORTS DRIVER VENV

echo "tests/ui: app $APP"

# Every tests/ui/test_*.py file (test_app.py first) runs against a fresh world of its
# own: database, data and config dirs, and a tauri-driver started with that environment
# (the app inherits it). Arguments are test names, passed to every file; a file with
# none of them reports "0 passed, 0 failed" and is skipped.
FILES=$(ls tests/ui/test_app.py; ls tests/ui/test_*.py | grep -v '/test_app.py$')
export FILES WORK

# Order matters: the X server first, then a session bus that can see $DISPLAY.
set +e
xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- bash -c '
  passed=0; failed=0
  for file in $FILES; do
    name=$(basename "$file" .py)
    export XDG_DATA_HOME=$WORK/$name/data HUB_CONFIG_DIR=$WORK/$name/config
    export HUB_DB=$XDG_DATA_HOME/customer-hub/hub.db
    mkdir -p "$XDG_DATA_HOME" "$HUB_CONFIG_DIR"
    chmod 700 "$HUB_CONFIG_DIR"
    # Fresh ports per file: a WebKitWebDriver of the previous file may linger.
    read -r PORT NATIVE_PORT < <("$VENV/bin/python" -c "$FREE_PORTS")
    export DRIVER_URL=http://127.0.0.1:$PORT
    echo "tests/ui: $file (database $HUB_DB, tauri-driver on port $PORT)"
    "$DRIVER" --port "$PORT" --native-port "$NATIVE_PORT" >"$ARTIFACTS/tauri-driver-$name.log" 2>&1 &
    driver=$!
    for _ in $(seq 300); do
      (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
      kill -0 "$driver" 2>/dev/null || { cat "$ARTIFACTS/tauri-driver-$name.log" >&2; break; }
      sleep 0.1
    done
    "$VENV/bin/python" -u "$file" "$@" | tee "$ARTIFACTS/$name.log"
    command -v pkill >/dev/null && pkill -P "$driver" 2>/dev/null
    kill "$driver" 2>/dev/null; wait "$driver" 2>/dev/null
    summary=$(grep -E "^[0-9]+ passed, [0-9]+ failed$" "$ARTIFACTS/$name.log" | tail -1)
    if [ -z "$summary" ]; then
      echo "tests/ui: $file ended without a summary" >&2
      failed=$((failed + 1))
      continue
    fi
    p=${summary%% passed*}; f=${summary#*, }; f=${f%% failed}
    passed=$((passed + p)); failed=$((failed + f))
  done
  echo "all files: $passed passed, $failed failed"
  [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
' tests-ui "$@" 2>&1 | grep --line-buffered -v -E "dbus-daemon|SpiRegistry daemon|Failed to set fd limit|Activating service name|Successfully activated service"
status=${PIPESTATUS[0]}
set -e
exit "$status"
