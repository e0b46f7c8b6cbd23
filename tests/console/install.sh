#!/usr/bin/env bash
# Installs what the console's browser tests need, if missing: Debian's Chromium (the
# headless browser; playwright-core drives the system's, it downloads none) and the
# locked playwright-core package (npm ci, from package-lock.json).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo"
if ! command -v chromium > /dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # fonts-dejavu-core: screenshots need a font with Latin glyphs.
  $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core > /dev/null
fi
command -v chromium > /dev/null || { echo "chromium did not install" >&2; exit 1; }
command -v npm > /dev/null || { echo "npm not found (Node 20+ required)" >&2; exit 1; }
cd "$HERE"
npm ci --no-audit --no-fund
chromium --version 2> /dev/null || true
