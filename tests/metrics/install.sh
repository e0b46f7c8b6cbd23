#!/usr/bin/env bash
# Installs a Prometheus server (Debian's package) for tests/metrics/prometheus.sh, if missing.
set -euo pipefail
if command -v prometheus >/dev/null; then
    echo "prometheus already installed: $(prometheus --version 2>&1 | head -1)"
    exit 0
fi
SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# Packages must not start services here (no init system in CI containers).
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
command -v prometheus >/dev/null || { echo "prometheus did not install" >&2; exit 1; }
echo "installed $(prometheus --version 2>&1 | head -1)"
