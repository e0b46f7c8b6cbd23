#!/usr/bin/env bash
# Long fuzz run: every fuzz target of the workspace with CAIRN_FUZZ_CASES cases
# (default 1,000,000; targets whose cases are costly run a fraction: the on-disk key
# target a tenth, madmin decryption a fiftieth, the real-server targets a hundredth).
# Usage: scripts/fuzz.sh [CASES] [CAIRN_FUZZ_SEED]. Prints one line per target
# ("fuzz <target>: <n> cases in <s> s, seed <seed>") and a summary at the end; a
# failure prints the smallest failing input and the seed that replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export CAIRN_FUZZ_CASES="${1:-1000000}"
if [ -n "${2:-}" ]; then export CAIRN_FUZZ_SEED="$2"; fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
run() { cargo test --locked --no-fail-fast "$@" -- --nocapture 2>&1 | tee -a "$log" | grep --line-buffered -E '^(fuzz |test result|thread .* panicked)' || status=1; }
run --workspace --test fuzz
run --workspace --lib fuzz_
echo "== summary (CAIRN_FUZZ_CASES=$CAIRN_FUZZ_CASES)"
grep -E '^fuzz ' "$log" | sort
exit "$status"
