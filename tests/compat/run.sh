#!/usr/bin/env bash
# Run Cairn's client-compatibility suites against a freshly started server.
#
#   tests/compat/install.sh                      # once: boto3, awscli, pytest, node deps
#   tests/compat/run.sh BINARY [SUITE...]        # SUITE: boto3 awscli node (default: all)
#
# Starts `BINARY server` on an ephemeral port with 4 drives in a temp dir and random root
# credentials (and CAIRN_DOMAIN=cairn.test for the virtual-host test, a random SSE-S3 master
# key in CAIRN_KMS_SECRET_KEY), waits for
# /minio/health/live, runs the suites, always stops the server and removes the temp dir.
# Exits non-zero if any suite failed; the last line is "N passed, M failed" (test counts).
#
# Useful environment: PYTEST_ADDOPTS (e.g. "-k multipart -x"), CAIRN_COMPAT_KEEP=1 (keep the
# temp dir with the server log), CAIRN_COMPAT_STARTUP_TIMEOUT (seconds, default 30).
set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=${PYTHON:-python3}
STARTUP_TIMEOUT=${CAIRN_COMPAT_STARTUP_TIMEOUT:-30}

if [[ $# -lt 1 ]]; then
    echo "usage: $0 BINARY [boto3|awscli|node ...]" >&2
    echo "0 passed, 1 failed"
    exit 2
fi
BIN=$1
shift
if [[ ! -x $BIN || -d $BIN ]]; then
    echo "error: server binary '$BIN' does not exist or is not executable" >&2
    echo "0 passed, 1 failed"
    exit 2
fi
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

SUITES=("$@")
[[ ${#SUITES[@]} -eq 0 ]] && SUITES=(boto3 awscli node)
for s in "${SUITES[@]}"; do
    case $s in boto3 | awscli | node) ;; *)
        echo "error: unknown suite '$s' (expected boto3, awscli or node)" >&2
        echo "0 passed, 1 failed"
        exit 2
        ;;
    esac
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cairn-compat.XXXXXX")
SERVER_PID=""

stop_server() {
    [[ -n $SERVER_PID ]] || return 0
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null
        for _ in $(seq 1 50); do # up to 10 s for a graceful stop
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "server did not stop within 10 s; killing it" >&2
            kill -KILL "$SERVER_PID" 2>/dev/null
        fi
    fi
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=""
}

cleanup() {
    stop_server
    if [[ ${CAIRN_COMPAT_KEEP:-0} == 1 ]]; then
        echo "kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

server_log_tail() {
    echo "---- server stdout (tail) ----"
    tail -n "${1:-40}" "$WORK/server.out" 2>/dev/null
    echo "---- server stderr (tail) ----"
    tail -n "${1:-40}" "$WORK/server.err" 2>/dev/null
    echo "------------------------------"
}

startup_failed() {
    echo "error: $*" >&2
    server_log_tail 60 >&2
    echo "0 passed, 1 failed"
    exit 1
}

# ---------------------------------------------------------------- start the server

ACCESS_KEY="cairn$("$PY" -c 'import secrets; print(secrets.token_hex(8))')"
SECRET_KEY=$("$PY" -c 'import secrets; print(secrets.token_hex(20))')
# A master key, so that SSE-S3 works (test_boto3_encryption.py); MinIO's name:base64 format.
KMS_KEY="cairn-compat:$("$PY" -c 'import base64, secrets; print(base64.b64encode(secrets.token_bytes(32)).decode())')"
DATA="$WORK/data"
mkdir -p "$DATA/d1" "$DATA/d2" "$DATA/d3" "$DATA/d4"

CAIRN_ROOT_USER="$ACCESS_KEY" CAIRN_ROOT_PASSWORD="$SECRET_KEY" CAIRN_DOMAIN=cairn.test CAIRN_CONSOLE_ADDRESS=127.0.0.1:0 \
    CAIRN_KMS_SECRET_KEY="$KMS_KEY" "$BIN" server --address 127.0.0.1:0 "$DATA/d{1...4}" \
    >"$WORK/server.out" 2>"$WORK/server.err" </dev/null &
SERVER_PID=$!

PORT=""
deadline=$((SECONDS + STARTUP_TIMEOUT))
while ((SECONDS < deadline)); do
    PORT=$(grep -oE 'API:[[:space:]]*http://127\.0\.0\.1:[0-9]+' "$WORK/server.out" 2>/dev/null | head -n 1 | grep -oE '[0-9]+$')
    [[ -n $PORT ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || startup_failed "server exited before printing its API address"
    sleep 0.1
done
[[ -n $PORT ]] || startup_failed "no 'API: http://127.0.0.1:PORT' line on stdout within ${STARTUP_TIMEOUT}s"
ENDPOINT="http://127.0.0.1:$PORT"

healthy=0
while ((SECONDS < deadline + 1)); do
    kill -0 "$SERVER_PID" 2>/dev/null || startup_failed "server exited during startup"
    if "$PY" - "$ENDPOINT/minio/health/live" <<'EOF'; then
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception:
    sys.exit(1)
EOF
        healthy=1
        break
    fi
    sleep 0.2
done
((healthy)) || startup_failed "$ENDPOINT/minio/health/live did not return 200 within ${STARTUP_TIMEOUT}s"
echo "cairn server up at $ENDPOINT (pid $SERVER_PID, data $DATA)"

export CAIRN_ENDPOINT="$ENDPOINT"
export CAIRN_ACCESS_KEY="$ACCESS_KEY"
export CAIRN_SECRET_KEY="$SECRET_KEY"
export CAIRN_DOMAIN_TEST=1
export CAIRN_DATA_DIR="$DATA"
export PYTHONDONTWRITEBYTECODE=1

# ---------------------------------------------------------------- suites

TOTAL_PASSED=0
TOTAL_FAILED=0
TOTAL_SKIPPED=0
SUMMARY=()

# record SUITE EXIT_CODE PASSED FAILED [SKIPPED]
record() {
    local suite=$1 rc=$2 p=${3:-0} f=${4:-0} sk=${5:-0}
    [[ $p =~ ^[0-9]+$ ]] || p=0
    [[ $f =~ ^[0-9]+$ ]] || f=0
    [[ $sk =~ ^[0-9]+$ ]] || sk=0
    if [[ $rc -ne 0 && $f -eq 0 ]]; then
        f=1 # the suite failed without reporting a failed test (crash, timeout, setup error)
    fi
    if [[ $rc -eq 0 && $f -ne 0 ]]; then
        rc=1
    fi
    if [[ $rc -eq 0 && $p -eq 0 ]]; then
        f=1 # ran nothing: treat as a failure
        rc=1
    fi
    TOTAL_PASSED=$((TOTAL_PASSED + p))
    TOTAL_FAILED=$((TOTAL_FAILED + f))
    TOTAL_SKIPPED=$((TOTAL_SKIPPED + sk))
    SUMMARY+=("$(printf '%-7s %s  (%d passed, %d failed, %d skipped)' "$suite" "$([[ $rc -eq 0 ]] && echo PASS || echo FAIL)" "$p" "$f" "$sk")")
}

run_boto3() {
    echo "==== boto3 (pytest) ===="
    local rc=0 junit="$WORK/pytest.xml"
    (cd "$HERE" && timeout 1800 "$PY" -m pytest -p no:cacheprovider -q -rfEs \
        --junitxml="$junit" test_*.py) || rc=$?
    [[ $rc -eq 124 ]] && echo "boto3 suite timed out"
    local counts
    counts=$("$PY" - "$junit" <<'EOF' 2>/dev/null
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
t = f = e = s = 0
for x in suites:
    t += int(x.get("tests", 0)); f += int(x.get("failures", 0))
    e += int(x.get("errors", 0)); s += int(x.get("skipped", 0))
print(t - f - e - s, f + e, s)
EOF
    ) || counts="0 0 0"
    # shellcheck disable=SC2086
    record boto3 "$rc" $counts
}

run_awscli() {
    echo "==== awscli ===="
    local rc=0 res="$WORK/awscli.counts"
    AWSCLI_RESULT_FILE="$res" timeout 1800 bash "$HERE/awscli.sh" || rc=$?
    [[ $rc -eq 124 ]] && echo "awscli suite timed out"
    local counts="0 0"
    [[ -s $res ]] && counts=$(cat "$res")
    # shellcheck disable=SC2086
    record awscli "$rc" $counts
}

run_node() {
    echo "==== node (@aws-sdk/client-s3) ===="
    if [[ ! -d $HERE/node/node_modules/@aws-sdk/client-s3 ]]; then
        echo "node dependencies missing: run tests/compat/install.sh (npm ci in tests/compat/node)"
        record node 1 0 1
        return
    fi
    local rc=0 tap="$WORK/node.tap"
    (cd "$HERE/node" && timeout 900 node --test \
        --test-reporter=spec --test-reporter-destination=stdout \
        --test-reporter=tap --test-reporter-destination="$tap" test.mjs) || rc=$?
    [[ $rc -eq 124 ]] && echo "node suite timed out"
    local p f c s
    p=$(grep -E '^# pass [0-9]+' "$tap" 2>/dev/null | tail -n 1 | grep -oE '[0-9]+$')
    f=$(grep -E '^# fail [0-9]+' "$tap" 2>/dev/null | tail -n 1 | grep -oE '[0-9]+$')
    c=$(grep -E '^# cancelled [0-9]+' "$tap" 2>/dev/null | tail -n 1 | grep -oE '[0-9]+$')
    s=$(grep -E '^# skipped [0-9]+' "$tap" 2>/dev/null | tail -n 1 | grep -oE '[0-9]+$')
    record node "$rc" "${p:-0}" "$((${f:-0} + ${c:-0}))" "${s:-0}"
}

for s in "${SUITES[@]}"; do
    "run_$s"
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "error: the server died during the $s suite" >&2
        TOTAL_FAILED=$((TOTAL_FAILED + 1))
        SUMMARY+=("server  DIED during $s")
        break
    fi
done

stop_server
if ((TOTAL_FAILED > 0)); then
    server_log_tail 40
fi

echo "==== summary ===="
printf '%s\n' "${SUMMARY[@]}"
if ((TOTAL_SKIPPED > 0)); then
    echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed, $TOTAL_SKIPPED skipped"
    # A skipped test tested nothing: it fails the run unless skips were accepted knowingly.
    if [[ ${CAIRN_TEST_ALLOW_SKIP:-} != 1 ]]; then
        echo "FAIL - $TOTAL_SKIPPED tests were skipped (see above); set CAIRN_TEST_ALLOW_SKIP=1 to accept that" >&2
        exit 1
    fi
else
    echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
fi
((TOTAL_FAILED == 0))
