#!/usr/bin/env bash
# Proves a real Prometheus server can scrape and parse Cairn's metrics, authenticating
# with the bearer token `mc admin prometheus generate` makes (HS512 JWT of the root
# credentials). Starts Cairn (4 drives) and Prometheus on loopback with ephemeral ports,
# scrapes every second, and queries Prometheus's HTTP API until the samples are there
# (bounded), then stops both. Usage: tests/metrics/prometheus.sh BINARY
set -euo pipefail
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
WAIT_SECS=60
WORK=$(mktemp -d)
PIDS=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

ACCESS=metrics-admin
SECRET=metrics-secret-$RANDOM$RANDOM
CAIRN_PORT=$(free_port)
CAIRN_ROOT_USER=$ACCESS CAIRN_ROOT_PASSWORD=$SECRET CAIRN_LOG=warn CAIRN_CONSOLE_ADDRESS=127.0.0.1:0 \
    "$BIN" server --address "127.0.0.1:$CAIRN_PORT" "$WORK/d{1...4}" >"$WORK/cairn.out" 2>"$WORK/cairn.log" &
PIDS+=($!)
for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$CAIRN_PORT/minio/health/live" >/dev/null && break
    sleep 0.2
done

TOKEN=$(python3 - "$ACCESS" "$SECRET" <<'PY'
import base64, hashlib, hmac, json, sys, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
header = b64(json.dumps({"alg": "HS512", "typ": "JWT"}).encode())
claims = b64(json.dumps({"exp": int(time.time()) + 3600, "sub": sys.argv[1], "iss": "prometheus"}).encode())
signature = hmac.new(sys.argv[2].encode(), f"{header}.{claims}".encode(), hashlib.sha512).digest()
print(f"{header}.{claims}.{b64(signature)}")
PY
)

PROM_PORT=$(free_port)
cat >"$WORK/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: cairn
    metrics_path: /minio/v2/metrics/cluster
    scheme: http
    authorization:
      credentials: $TOKEN
    static_configs:
      - targets: ["127.0.0.1:$CAIRN_PORT"]
YML
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
    --web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/prometheus.log" 2>&1 &
PIDS+=($!)

query() { # PROMQL -> first value, or empty
    curl -fsG "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" 2>/dev/null \
        | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null || true
}

deadline=$((SECONDS + WAIT_SECS))
while (( SECONDS < deadline )); do
    up=$(query 'up{job="cairn"}')
    drives=$(query 'minio_cluster_drive_online_total')
    requests=$(query 'count(minio_s3_requests_ttfb_seconds_distribution) > 0')
    if [[ $up == 1 && $drives == 4 ]]; then
        echo "ok - Prometheus scraped Cairn with the JWT: up=$up, minio_cluster_drive_online_total=$drives, ttfb series: ${requests:-none yet}"
        exit 0
    fi
    sleep 1
done
echo "FAIL - Prometheus did not ingest Cairn's metrics within ${WAIT_SECS}s (up=${up:-?}, drives=${drives:-?})" >&2
tail -20 "$WORK/prometheus.log" >&2
exit 1
