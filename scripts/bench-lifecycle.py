#!/usr/bin/env python3
"""How fast one node's scanner applies an expiring lifecycle rule.

    python3 scripts/bench-lifecycle.py [BINARY] [OBJECTS]

Starts BINARY (default: the debug build) as a single node with 4 drives in a temp folder,
a scanner pass every second and a lifecycle day of 1 s (CAIRN_TEST_LIFECYCLE_DAY_SECS,
tests only), writes OBJECTS (default 20,000) objects of 100 bytes under tmp/ with boto3,
puts a rule expiring tmp/ after one day, and reports how long the node took to expire
them all (from its cairn_node_ilm_actions_total counter) and that no key is left. Needs
boto3 (tests/compat/install.sh).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

BIN = sys.argv[1] if len(sys.argv) > 1 else "/var/tmp/cairn-target/debug/cairn"
OBJECTS = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
KEYS = ("bench", "bench-secret-key")


def expired(api):
    text = urllib.request.urlopen(api + "/minio/v2/metrics/node").read().decode()
    for line in text.splitlines():
        if line.startswith("cairn_node_ilm_actions_total") and 'action="expire_object"' in line:
            return int(float(line.split()[-1]))
    return 0


def main():
    work = tempfile.mkdtemp(prefix="cairn-bench-ilm-")
    env = dict(os.environ, CAIRN_ROOT_USER=KEYS[0], CAIRN_ROOT_PASSWORD=KEYS[1], CAIRN_LOG="warn",
               CAIRN_SCANNER_INTERVAL_SECS="1", CAIRN_TEST_LIFECYCLE_DAY_SECS="1", CAIRN_PROMETHEUS_AUTH_TYPE="public")
    server = subprocess.Popen([BIN, "server", "--address", "127.0.0.1:0", "--console-address", "127.0.0.1:0",
                               f"{work}/d{{1...4}}"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        api = next(line.split()[1] for line in server.stdout if line.startswith("API: "))
        s3 = boto3.client("s3", endpoint_url=api, aws_access_key_id=KEYS[0], aws_secret_access_key=KEYS[1],
                          region_name="us-east-1",
                          config=Config(s3={"addressing_style": "path"}, max_pool_connections=32))
        s3.create_bucket(Bucket="temp")
        started = time.time()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda i: s3.put_object(Bucket="temp", Key=f"tmp/{i:06d}", Body=b"x" * 100), range(OBJECTS)))
        print(f"wrote {OBJECTS} objects in {time.time() - started:.1f} s")
        rule = {"ID": "expire", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 1}}
        s3.put_bucket_lifecycle_configuration(Bucket="temp", LifecycleConfiguration={"Rules": [rule]})
        put_at, first = time.time(), None
        deadline = put_at + 600
        while (count := expired(api)) < OBJECTS:
            if count and first is None:
                first = time.time()
            if time.time() > deadline:
                sys.exit(f"only {count} of {OBJECTS} expired within 600 s")
            time.sleep(0.2)
        done = time.time()
        first = first or done
        print(f"expired {OBJECTS}: first {first - put_at:.1f} s after the rule, all after {done - put_at:.1f} s; "
              f"{OBJECTS / max(done - first, 1e-9):.0f} objects/s while expiring")
        print("keys left:", s3.list_objects_v2(Bucket="temp").get("KeyCount"))
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
