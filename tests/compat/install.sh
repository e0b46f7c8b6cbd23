#!/usr/bin/env bash
# Idempotently install what tests/compat needs (Debian with Python 3.11+/pip and Node 20+/npm):
# pinned boto3 / botocore[crt] / awscli / pytest / minio for the current python3, and the locked
# @aws-sdk packages in tests/compat/node (npm ci, from package-lock.json).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=${PYTHON:-python3}

# Pins. botocore[crt] brings awscrt, which botocore needs for CRC32C/CRC64NVME checksums.
BOTO3=1.43.11
BOTOCORE=1.43.11
AWSCLI=1.45.11
PYTEST=8.4.2
# MinIO's Python SDK: its MinioAdmin is the admin-API client the identity tests use.
MINIO=7.2.20
# s3cmd: the legacy-region (bucket_location = US) client test.
S3CMD=2.4.0
PY_PKGS=("boto3==$BOTO3" "botocore[crt]==$BOTOCORE" "awscli==$AWSCLI" "pytest==$PYTEST" "minio==$MINIO" "s3cmd==$S3CMD")

command -v "$PY" >/dev/null || { echo "python3 not found" >&2; exit 1; }
"$PY" -m pip --version >/dev/null 2>&1 || { echo "pip for $PY not found (apt-get install python3-pip)" >&2; exit 1; }

PIP_FREEZE=$("$PY" -m pip list --format=freeze 2>/dev/null || true)
installed() { # NAME VERSION -> 0 if exactly that version is installed
    grep -qix "$1==$2" <<<"$PIP_FREEZE"
}
have_crt() { "$PY" -c 'import awscrt' >/dev/null 2>&1; }

if installed boto3 "$BOTO3" && installed botocore "$BOTOCORE" && installed awscli "$AWSCLI" \
    && installed pytest "$PYTEST" && installed minio "$MINIO" && installed s3cmd "$S3CMD" && have_crt; then
    echo "python packages already installed: ${PY_PKGS[*]}"
else
    PIP_ARGS=(--disable-pip-version-check --no-input)
    # Debian's system python is "externally managed" (PEP 668); allow installing into it.
    if "$PY" -c 'import sys, sysconfig, os; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["stdlib"], "EXTERNALLY-MANAGED")) else 1)' 2>/dev/null \
        && [[ -z ${VIRTUAL_ENV:-} ]]; then
        PIP_ARGS+=(--break-system-packages)
    fi
    "$PY" -m pip install "${PIP_ARGS[@]}" "${PY_PKGS[@]}"
fi

# The aws entry point must be on PATH for awscli.sh.
if ! command -v aws >/dev/null; then
    echo "warning: 'aws' is not on PATH after installing awscli; add $("$PY" -m site --user-base 2>/dev/null)/bin or the pip scripts dir to PATH" >&2
fi

command -v npm >/dev/null || { echo "npm not found (Node 20+ required)" >&2; exit 1; }
cd "$HERE/node"
# npm ci recreates node_modules exactly from package-lock.json (safe to repeat).
npm ci --no-audit --no-fund

echo "installed:"
"$PY" -m pip list --format=freeze 2>/dev/null | grep -iE '^(boto3|botocore|awscli|awscrt|s3transfer|pytest|s3cmd)=='
aws --version 2>&1 || true
npm ls --depth=0 2>/dev/null || true
