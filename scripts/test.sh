#!/usr/bin/env bash
# Runs every test: formatting and lints, unit and property tests, end-to-end tests
# against the real binary (aws-sdk-s3), and the client-compatibility suite
# (boto3, AWS CLI, @aws-sdk/client-s3), the web console in headless Chromium, and a real
# Prometheus scraping the metrics. Needs the packages the install scripts under tests/ install.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

shellcheck scripts/*.sh tests/*/*.sh .ci/run
bash tests/deploy/validate.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo build --workspace --locked
cargo test --workspace --locked
bash tests/metrics/prometheus.sh "$CARGO_TARGET_DIR/debug/cairn"
bash tests/compat/run.sh "$CARGO_TARGET_DIR/debug/cairn"
bash tests/console/run.sh "$CARGO_TARGET_DIR/debug/cairn"
bash tests/image/test.sh "$CARGO_TARGET_DIR/debug/cairn"
python3 tests/k8s/statefulset.py "$CARGO_TARGET_DIR/debug/cairn"
