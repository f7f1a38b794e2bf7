#!/usr/bin/env bash
# Installs what `make run` and `make test` need, and builds ui/dist. Idempotent: a second
# run checks and does nothing (no apt-get update, no npm ci, no rebuild).
#
#   scripts/setup.sh run    system packages to build and run the desktop app, UI deps, ui/dist
#   scripts/setup.sh test   the above plus test tools: Xvfb, WebKitWebDriver, D-Bus, keyring,
#                           PostgreSQL, ...; tauri-driver into .tools/bin
#   scripts/setup.sh ui     only UI deps and ui/dist
#
# ui/dist must exist before cargo compiles src-tauri: tauri embeds it at compile time.
# Environment: SETUP_SKIP_APT=1 skips the system-package step (for non-Debian systems or
# when packages are managed elsewhere).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
MODE=${1:-run}

say() { printf '==> setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

case $MODE in
  run | test | ui) ;;
  -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown mode '$MODE' (expected run, test or ui)" ;;
esac

# Debian/Ubuntu packages. Build: the WebKitGTK 4.1 / GTK stack that tauri links, plus the
# tray/menu libraries. Test: a headless X server and the WebKit WebDriver for the UI suite,
# a D-Bus session with a notification server and a Secret Service keyring, screenshots,
# sqlite3 for poking at databases, and PostgreSQL for the sync server's tests.
BUILD_PACKAGES=(
  build-essential pkg-config libssl-dev libdbus-1-dev
  libwebkit2gtk-4.1-dev libxdo-dev libayatana-appindicator3-dev librsvg2-dev
)
TEST_PACKAGES=(
  xvfb xauth webkit2gtk-driver dbus dunst gnome-keyring libsecret-tools keyutils
  imagemagick sqlite3 postgresql
  # ICS export tests parse our calendars with a real iCalendar parser.
  python3-icalendar
)

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    die "need root or sudo to run: $*"
  fi
}

install_system_packages() {
  local wanted=("${BUILD_PACKAGES[@]}")
  if [[ $MODE == test ]]; then
    wanted+=("${TEST_PACKAGES[@]}")
    # The UI suite makes a Python venv; Debian's python3 needs python3-venv for that.
    if command -v python3 >/dev/null && ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
      wanted+=(python3-venv)
    fi
  fi

  if [[ ${SETUP_SKIP_APT:-} == 1 ]]; then
    say "SETUP_SKIP_APT=1: not checking system packages (${wanted[*]})"
    return
  fi
  if ! command -v dpkg >/dev/null || ! command -v apt-get >/dev/null; then
    say "not a Debian/Ubuntu system: install the equivalents of these packages yourself:"
    say "  ${wanted[*]}"
    return
  fi

  local missing=() pkg
  for pkg in "${wanted[@]}"; do
    if ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed'; then
      missing+=("$pkg")
    fi
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    say "system packages: all ${#wanted[@]} present"
    return
  fi

  say "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    -o Dpkg::Use-Pty=0 --no-install-recommends "${missing[@]}"
}

check_toolchains() {
  command -v cargo >/dev/null ||
    die "cargo not found: install Rust with rustup (https://rustup.rs), then rerun"
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    die "Node.js and npm not found: install Node.js 20.19+ (or 22.12+), then rerun"
  fi
  # Vite 8 needs Node 20.19+ / 22.12+; Debian 12's own nodejs (18) is too old.
  local version major minor
  version=$(node --version)
  version=${version#v}
  major=${version%%.*}
  minor=${version#*.}
  minor=${minor%%.*}
  if ((major < 20 || (major == 20 && minor < 19) || (major == 22 && minor < 12))); then
    die "Node.js $version is too old for the UI build: need 20.19+ or 22.12+"
  fi
}

install_tauri_driver() {
  if [[ -x $ROOT/.tools/bin/tauri-driver ]]; then
    say "tauri-driver: present in .tools/bin"
    return
  fi
  say "installing tauri-driver into .tools/bin"
  cargo install tauri-driver --locked --version '^2' --root "$ROOT/.tools"
}

sha256_of_files() {
  sha256sum "$@" | sha256sum | cut -d' ' -f1
}

# Everything under ui/ that the build reads, by content and name.
ui_source_hash() {
  (
    cd "$ROOT/ui"
    find . \( -path ./node_modules -o -path ./dist -o -path ./.svelte-kit \
      -o -path ./coverage -o -path ./.vite \) -prune -o -type f -print0 |
      LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
  )
}

setup_ui() {
  [[ -f $ROOT/ui/package.json ]] || { say "no ui/package.json yet: skipping the UI"; return; }
  [[ -f $ROOT/ui/package-lock.json ]] || die "ui/package-lock.json is missing: npm ci needs it"

  # The stamps live in node_modules so that deleting node_modules resets them.
  local deps_stamp=$ROOT/ui/node_modules/.customer-hub-deps.sha256
  local dist_stamp=$ROOT/ui/node_modules/.customer-hub-dist.sha256
  local lock_hash
  lock_hash=$(sha256_of_files "$ROOT/ui/package.json" "$ROOT/ui/package-lock.json")
  if [[ -f $deps_stamp && $(<"$deps_stamp") == "$lock_hash" ]]; then
    say "ui dependencies: up to date"
  else
    say "ui dependencies: npm ci"
    (cd "$ROOT/ui" && npm ci --no-audit --no-fund)
    printf '%s\n' "$lock_hash" >"$deps_stamp"
  fi

  local source_hash
  source_hash=$(ui_source_hash)
  if [[ -f $ROOT/ui/dist/index.html && -f $dist_stamp && $(<"$dist_stamp") == "$source_hash" ]]; then
    say "ui/dist: up to date"
  else
    say "ui/dist: npm run build"
    (cd "$ROOT/ui" && npm run build)
    printf '%s\n' "$source_hash" >"$dist_stamp"
  fi
}

if [[ $MODE != ui ]]; then
  install_system_packages
fi
check_toolchains
if [[ $MODE == test ]]; then
  install_tauri_driver
fi
setup_ui
say "done ($MODE)"
