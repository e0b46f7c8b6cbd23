#!/usr/bin/env bash
# Runs the console's end-to-end tests in headless Chromium against BIN (the cairn
# binary). Screenshots of every page go to $CAIRN_CONSOLE_SCREENSHOTS (default
# /tmp/cairn-console-screenshots). Needs tests/console/install.sh.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=$(realpath "${1:?usage: run.sh PATH/TO/cairn}")
cd "$HERE"
[[ -d node_modules/playwright-core ]] || { echo "playwright-core is missing: run tests/console/install.sh" >&2; exit 1; }
CAIRN_BIN="$BIN" node --test --test-concurrency=1 test.mjs
