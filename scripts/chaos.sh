#!/usr/bin/env bash
# The long fault-injection profile (issue 9): rounds of faults (kill -9, SIGSTOP past a
# lock lease, partitions, full / read-only / wiped drives, flipped shard bytes) under a
# load of concurrent S3 clients on three real nodes in network namespaces, then the
# single-node crash-consistency loop. Prints the seed; the same seed replays the same
# faults and requests. Needs root (namespaces, tmpfs mounts) and nftables
# (tests/chaos/install.sh). The Markdown report is appended to --report (default
# target-dir/chaos-report.md) for docs/reliability.md.
#
# Usage: scripts/chaos.sh [--rounds N] [--crashes N] [--seed N] [--faults kill,pause,...]
#                         [--only rounds|crash] [--include-known-failing] [--report FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

rounds=50
crashes=200
seed=""
faults=""
only=""
report=""
include_known=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --crashes) crashes="$2"; shift 2 ;;
        --seed) seed="$2"; shift 2 ;;
        --faults) faults="$2"; shift 2 ;;
        --only) only="$2"; shift 2 ;;
        --report) report="$2"; shift 2 ;;
        --include-known-failing) include_known=1; shift ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
if [[ -z "$seed" ]]; then
    # 48 random bits: printed, and enough to replay.
    seed=$(( $(od -An -N6 -tu8 /dev/urandom | tr -d ' ') ))
fi
report="${report:-$CARGO_TARGET_DIR/chaos-report.md}"
case "$only" in
    "") tests=(fault_injection_rounds crash_consistency_loop) ;;
    rounds) tests=(fault_injection_rounds) ;;
    crash) tests=(crash_consistency_loop) ;;
    *) echo "--only takes rounds or crash" >&2; exit 2 ;;
esac

echo "chaos: seed $seed, $rounds rounds, $crashes crashes; report appended to $report"
export CHAOS_SEED="$seed" CHAOS_ROUNDS="$rounds" CHAOS_CRASHES="$crashes" CHAOS_REPORT="$report"
export CHAOS_REQUIRE_NAMESPACES=1
[[ -n "$faults" ]] && export CHAOS_FAULTS="$faults"
[[ "$include_known" == 1 ]] && export CHAOS_INCLUDE_KNOWN_FAILING=1
status=0
for test in "${tests[@]}"; do
    cargo test -p cairn --test chaos --locked -- --exact "$test" --nocapture --test-threads=1 || status=1
done
echo "chaos: seed $seed done (exit $status); report in $report"
exit $status
