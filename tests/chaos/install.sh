#!/usr/bin/env bash
# Installs what the fault-injection suite (crates/cairn/tests/chaos) needs beyond the base
# machine, if missing: nftables (partitions inside network namespaces). iproute2 (ip netns)
# and util-linux (nsenter, mount) are part of the base system.
set -euo pipefail
if command -v nft >/dev/null; then
    echo "nftables already installed: $(nft --version)"
    exit 0
fi
SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends nftables >/dev/null
command -v nft >/dev/null || { echo "nftables did not install" >&2; exit 1; }
echo "installed $(nft --version)"
