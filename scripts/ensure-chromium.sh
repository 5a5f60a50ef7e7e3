#!/usr/bin/env bash
# Makes sure /usr/bin/chromium (Debian's `chromium` package) exists for the browser tests
# (test/e2e/browser-cors.test.ts), which drive it headless with playwright-core. playwright-core
# never downloads a browser of its own: the tests launch this one.
# Silent and exit 0 when already installed; installs as root; otherwise prints the command, exit 1.
set -euo pipefail

readonly CHROMIUM=/usr/bin/chromium

if [[ -x "$CHROMIUM" ]]; then
  exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
  echo "$CHROMIUM is missing. Install it as root with:" >&2
  echo "  sudo bash $0" >&2
  exit 1
fi

apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium

if [[ ! -x "$CHROMIUM" ]]; then
  echo "apt-get installed chromium but $CHROMIUM is still missing" >&2
  exit 1
fi
