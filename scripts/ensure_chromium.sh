#!/usr/bin/env bash
# Headless Chromium from Debian's packages for the dashboard's browser tests (tests/e2e).
# Idempotent: does nothing when /usr/bin/chromium is there. Playwright never downloads a
# browser of its own here; the tests launch this one (executable_path=/usr/bin/chromium).
set -euo pipefail
CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
echo "ensure_chromium: $CHROMIUM is missing; installing Debian's chromium package" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >&2
test -x "$CHROMIUM" || { echo "ensure_chromium: $CHROMIUM still missing after install" >&2; exit 1; }
