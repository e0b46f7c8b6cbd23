#!/usr/bin/env bash
# Cairn compatibility checks with the AWS CLI (v1, `aws s3` and `aws s3api`).
#
#   CAIRN_ENDPOINT=http://127.0.0.1:9000 CAIRN_ACCESS_KEY=... CAIRN_SECRET_KEY=... tests/compat/awscli.sh
#
# Prints "ok - NAME" or "FAIL - NAME" (with the command's output) for each check and exits
# non-zero if any failed. If AWSCLI_RESULT_FILE is set, "PASSED FAILED" is written to it.
set -u -o pipefail

: "${CAIRN_ENDPOINT:?CAIRN_ENDPOINT must be set}"
: "${CAIRN_ACCESS_KEY:?CAIRN_ACCESS_KEY must be set}"
: "${CAIRN_SECRET_KEY:?CAIRN_SECRET_KEY must be set}"

command -v aws >/dev/null || { echo "FAIL - aws CLI not found (run tests/compat/install.sh)"; exit 1; }
PY=${PYTHON:-python3}
CMD_TIMEOUT=${AWSCLI_CMD_TIMEOUT:-300}

T=$(mktemp -d "${TMPDIR:-/tmp}/cairn-awscli.XXXXXX")
B="cairn-cli-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"

# A throwaway, fully isolated CLI configuration.
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_CA_BUNDLE \
      AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE
export AWS_ACCESS_KEY_ID="$CAIRN_ACCESS_KEY"
export AWS_SECRET_ACCESS_KEY="$CAIRN_SECRET_KEY"
export AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE="$T/config"
export AWS_SHARED_CREDENTIALS_FILE="$T/credentials"
export AWS_EC2_METADATA_DISABLED=true
export AWS_PAGER=""
cat >"$AWS_CONFIG_FILE" <<'EOF'
[default]
region = us-east-1
max_attempts = 1
s3 =
    addressing_style = path
EOF
: >"$AWS_SHARED_CREDENTIALS_FILE"

awsc() { timeout "$CMD_TIMEOUT" aws --endpoint-url "$CAIRN_ENDPOINT" "$@"; }

cleanup() {
    awsc s3 rb --force "s3://$B" >/dev/null 2>&1 || true
    rm -rf "$T"
}
trap cleanup EXIT

PASSED=0
FAILED=0
OUT="$T/last.out"

# check NAME FUNCTION [ARGS...]: run a check, report ok/FAIL with its output on failure.
check() {
    local name=$1
    shift
    if "$@" >"$OUT" 2>&1; then
        echo "ok - $name"
        PASSED=$((PASSED + 1))
    else
        echo "FAIL - $name"
        sed 's/^/    /' "$OUT" | tail -n 30
        FAILED=$((FAILED + 1))
    fi
}

# fail MSG: print a message and return non-zero (for use inside check functions)
fail() { echo "$*"; return 1; }

# ---------------------------------------------------------------- checks

c_mb() {
    local out
    out=$(awsc s3 mb "s3://$B") || return 1
    echo "$out"
    grep -q "make_bucket: $B" <<<"$out" || fail "unexpected output"
}

c_ls_buckets() {
    local out
    out=$(awsc s3 ls) || return 1
    echo "$out"
    grep -qE "[[:space:]]$B\$" <<<"$out" || fail "bucket $B not listed"
}

c_cp_small_up() {
    printf 'small file for the aws cli\nline 2 ünïcödé\n' >"$T/small.txt"
    awsc s3 cp "$T/small.txt" "s3://$B/dir/small.txt"
}

c_cp_small_down() {
    awsc s3 cp "s3://$B/dir/small.txt" "$T/small.down" || return 1
    cmp "$T/small.txt" "$T/small.down"
}

c_cp_large_up() {
    head -c $((40 * 1024 * 1024)) /dev/urandom >"$T/big.bin"
    awsc s3 cp "$T/big.bin" "s3://$B/big.bin"
}

c_head_large() {
    local len etag
    len=$(awsc s3api head-object --bucket "$B" --key big.bin --query ContentLength --output text) || return 1
    etag=$(awsc s3api head-object --bucket "$B" --key big.bin --query ETag --output text) || return 1
    echo "ContentLength=$len ETag=$etag"
    [[ $len == 41943040 ]] || fail "ContentLength $len != 41943040"
    # the CLI uploads 40 MiB in 8 MiB parts -> multipart ETag with 5 parts
    [[ $etag =~ ^\"?[0-9a-f]{32}-5\"?$ ]] || fail "ETag $etag is not a 5-part multipart ETag"
}

c_cp_large_down() {
    awsc s3 cp "s3://$B/big.bin" "$T/big.down" || return 1
    cmp "$T/big.bin" "$T/big.down"
}

c_ls_bucket() {
    local out
    out=$(awsc s3 ls "s3://$B/") || return 1
    echo "$out"
    grep -qE "PRE dir/\$" <<<"$out" || fail "missing 'PRE dir/'"
    grep -qE " 41943040 big\.bin\$" <<<"$out" || fail "missing big.bin with size"
    out=$(awsc s3 ls --recursive "s3://$B/") || return 1
    echo "$out"
    grep -qE " dir/small\.txt\$" <<<"$out" || fail "recursive listing misses dir/small.txt"
}

c_head_object() {
    local size len ct
    size=$(stat -c %s "$T/small.txt")
    len=$(awsc s3api head-object --bucket "$B" --key dir/small.txt --query ContentLength --output text) || return 1
    echo "ContentLength=$len (local $size)"
    [[ $len == "$size" ]] || fail "size mismatch"
    ct=$(awsc s3api head-object --bucket "$B" --key dir/small.txt --query ContentType --output text) || return 1
    echo "ContentType=$ct"
    [[ $ct == text/plain* ]] || fail "the CLI guesses text/plain for .txt; got $ct"
}

c_head_missing() {
    if awsc s3api head-object --bucket "$B" --key no/such/key; then
        fail "head-object of a missing key succeeded"
    fi
    return 0
}

c_s3api_put_get_metadata() {
    printf 'api body' >"$T/api.txt"
    awsc s3api put-object --bucket "$B" --key api/obj.txt --body "$T/api.txt" \
        --content-type text/x-api --metadata color=blue,shape=round >/dev/null || return 1
    local meta
    meta=$(awsc s3api head-object --bucket "$B" --key api/obj.txt --query 'Metadata.color' --output text) || return 1
    [[ $meta == blue ]] || fail "metadata color=$meta"
    awsc s3api get-object --bucket "$B" --key api/obj.txt "$T/api.down" >/dev/null || return 1
    cmp "$T/api.txt" "$T/api.down"
}

c_list_objects_v2_delimiter() {
    local out
    out=$(awsc s3api list-objects-v2 --bucket "$B" --delimiter / --query 'CommonPrefixes[].Prefix' --output text) || return 1
    echo "$out"
    [[ $(tr '\t' '\n' <<<"$out" | sort | tr '\n' ' ') == "api/ dir/ " ]] || fail "unexpected common prefixes"
}

c_presign() {
    local url
    url=$(awsc s3 presign "s3://$B/dir/small.txt" --expires-in 300) || return 1
    echo "$url"
    [[ $url == *X-Amz-Signature=* || $url == *Signature=* ]] || fail "not a presigned URL"
    "$PY" - "$url" "$T/small.txt" <<'EOF'
import sys, urllib.request
url, path = sys.argv[1], sys.argv[2]
with urllib.request.urlopen(url, timeout=60) as r:
    body = r.read()
expected = open(path, "rb").read()
sys.exit(0 if body == expected else "presigned download differs")
EOF
}

c_stdin_upload() {
    local got
    printf 'from stdin\n' | awsc s3 cp - "s3://$B/stdin.txt" || return 1
    got=$(awsc s3 cp "s3://$B/stdin.txt" -) || return 1
    [[ $got == "from stdin" ]] || fail "got '$got'"
}

make_tree() {
    local i
    mkdir -p "$T/tree/sub/deeper" "$T/tree/other"
    for i in $(seq 1 20); do
        local dir="$T/tree"
        ((i % 3 == 1)) && dir="$T/tree/sub"
        ((i % 5 == 0)) && dir="$T/tree/sub/deeper"
        ((i % 7 == 0)) && dir="$T/tree/other"
        head -c $((i * 1000 + 17)) /dev/urandom >"$dir/file-$i.dat"
    done
    # make the local files clearly older than the uploads
    find "$T/tree" -type f -exec touch -d '2 hours ago' {} +
    [[ $(find "$T/tree" -type f | wc -l) -eq 20 ]]
}

c_sync_up() {
    local out n
    out=$(awsc s3 sync "$T/tree" "s3://$B/tree/") || return 1
    echo "$out"
    n=$(grep -c '^upload:' <<<"$out")
    [[ $n -eq 20 ]] || fail "expected 20 uploads, got $n"
    n=$(awsc s3 ls --recursive "s3://$B/tree/" | wc -l)
    [[ $n -eq 20 ]] || fail "expected 20 objects, listed $n"
}

c_sync_again_noop() {
    local out
    out=$(awsc s3 sync "$T/tree" "s3://$B/tree/") || return 1
    echo "$out"
    if grep -q '^upload:' <<<"$out"; then
        fail "second sync uploaded files again (size or LastModified mismatch?)"
    fi
    return 0
}

c_sync_down() {
    local out
    out=$(awsc s3 sync "s3://$B/tree/" "$T/tree-down") || return 1
    diff -r "$T/tree" "$T/tree-down" || fail "downloaded tree differs"
    # a second download sync transfers nothing either
    out=$(awsc s3 sync "s3://$B/tree/" "$T/tree-down") || return 1
    echo "$out"
    if grep -q '^download:' <<<"$out"; then fail "second download sync transferred files"; fi
    return 0
}

c_sync_delete() {
    rm "$T/tree/sub/file-1.dat" || return 1
    local out n
    out=$(awsc s3 sync --delete "$T/tree" "s3://$B/tree/") || return 1
    echo "$out"
    grep -q "^delete: s3://$B/tree/sub/file-1.dat" <<<"$out" || fail "no delete reported"
    if grep -q '^upload:' <<<"$out"; then fail "sync --delete uploaded unchanged files"; fi
    n=$(awsc s3 ls --recursive "s3://$B/tree/" | wc -l)
    [[ $n -eq 19 ]] || fail "expected 19 objects after sync --delete, listed $n"
}

c_mv() {
    awsc s3 mv "s3://$B/stdin.txt" "s3://$B/moved/stdin.txt" || return 1
    if awsc s3api head-object --bucket "$B" --key stdin.txt >/dev/null 2>&1; then
        fail "source still exists after mv"
    fi
    [[ $(awsc s3 cp "s3://$B/moved/stdin.txt" -) == "from stdin" ]] || fail "moved object content"
}

c_rb_non_empty_fails() {
    if awsc s3 rb "s3://$B"; then
        fail "rb of a non-empty bucket succeeded"
    fi
    awsc s3api head-bucket --bucket "$B" || fail "bucket disappeared"
}

c_rm_recursive() {
    local out
    awsc s3 rm --recursive "s3://$B/" || return 1
    out=$(awsc s3 ls --recursive "s3://$B/") || true
    [[ -z $out ]] || fail "objects left after rm --recursive: $out"
}

c_rb() {
    local out
    out=$(awsc s3 rb "s3://$B") || return 1
    echo "$out"
    grep -q "remove_bucket: $B" <<<"$out" || fail "unexpected output"
    if awsc s3api head-bucket --bucket "$B"; then fail "bucket still exists"; fi
    out=$(awsc s3 ls) || return 1
    if grep -qE "[[:space:]]$B\$" <<<"$out"; then fail "bucket still listed"; fi
    return 0
}

c_bad_credentials() {
    local out
    awsc s3api list-buckets >/dev/null || fail "list-buckets with the right key failed" || return 1
    if out=$(AWS_SECRET_ACCESS_KEY="${CAIRN_SECRET_KEY}wrong" awsc s3api list-buckets 2>&1); then
        fail "list-buckets with a wrong secret key succeeded"
        return 1
    fi
    echo "$out"
    grep -q SignatureDoesNotMatch <<<"$out" || fail "expected SignatureDoesNotMatch"
}

check "s3 mb" c_mb
check "s3 ls (buckets)" c_ls_buckets
check "s3 cp small file up" c_cp_small_up
check "s3 cp small file down + compare" c_cp_small_down
check "s3 cp 40 MiB file up (multipart)" c_cp_large_up
check "s3api head-object of 40 MiB file (size, multipart ETag)" c_head_large
check "s3 cp 40 MiB file down + compare" c_cp_large_down
check "s3 ls bucket (prefixes, sizes, recursive)" c_ls_bucket
check "s3api head-object" c_head_object
check "s3api head-object of missing key fails" c_head_missing
check "s3api put-object/get-object with metadata" c_s3api_put_get_metadata
check "s3api list-objects-v2 --delimiter" c_list_objects_v2_delimiter
check "s3 presign + download" c_presign
check "s3 cp from stdin / to stdout" c_stdin_upload
check "create local tree of 20 files" make_tree
check "s3 sync up (20 files)" c_sync_up
check "s3 sync up again uploads nothing" c_sync_again_noop
check "s3 sync down + compare, again downloads nothing" c_sync_down
check "s3 sync --delete" c_sync_delete
check "s3 mv" c_mv
check "s3 rb of non-empty bucket fails" c_rb_non_empty_fails
check "s3 rm --recursive" c_rm_recursive
check "s3 rb" c_rb
check "wrong secret key rejected" c_bad_credentials

echo "awscli: $PASSED ok, $FAILED FAIL"
if [[ -n ${AWSCLI_RESULT_FILE:-} ]]; then
    echo "$PASSED $FAILED" >"$AWSCLI_RESULT_FILE"
fi
[[ $FAILED -eq 0 ]]
