#!/usr/bin/env python3
"""The StatefulSet of k8s/storage run on this machine as the cluster would run it.

No Kubernetes API server can run here, so this test plays kubelet, the endpoints
controller and kube-proxy itself, from the manifests as they are:

- It reads k8s/storage/server/statefulset.yaml, secret.yaml and init-job.yaml (nothing
  of them is copied here): the container's arguments, its environment (Secret
  references and $(VAR) expansion), probes, security context and grace period.
- Each pod is the image built by scripts/image.sh, run as a container runtime would: a
  network namespace named after the pod (cairn-0, cairn-1, cairn-2; veth + bridge on
  TEST-NET-1 192.0.2.0/24), /etc/netns/<pod>/hosts resolving the headless names
  cairn-N.cairn.storage.svc.cluster.local and cairn-api.storage.svc.cluster.local, an
  overlay root filesystem made read-only, the pod's own /data folder, the image's
  entrypoint with the manifest's arguments under chroot as the manifest's user.
- The cairn-api Service is an nftables DNAT in the clients' namespace (cairn-client) to
  the pods that pass their readiness probe, as kube-proxy programs it.

Then: `kubectl exec cairn-0 -- cairn admin info cairn`; the init Job's command twice
(the second run changes nothing); the application's operations with @aws-sdk/client-s3
as the application user; a rolling upgrade as `kubectl set image` does it (highest
ordinal first, out of the Service, SIGTERM, the grace period, restarted, ready, back)
while boto3 clients with the standard retry policy write and read through the Service
(0 failed requests, 0 lost writes); and a pod whose volume is lost (an empty /data) is
refilled by healing (checked by reading everything with another pod stopped).

Needs root, ip netns, nftables, podman; without them it fails, it does not skip.
CAIRN_K8S_KEEP=1 keeps the pods' logs and volumes; CAIRN_K8S_LOG sets their log filter.

    tests/k8s/statefulset.py CAIRN_BINARY
"""

import base64
import ctypes
import fcntl
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import boto3
import botocore.config
import yaml

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "k8s" / "storage"
IMAGE_TAG = "localhost/cairn-k8s-test:ci"
# Shared with the fault-injection suite: both use 192.0.2.0/24 and fixed names.
LOCK_FILE = "/var/tmp/cairn-chaos.lock"
NAMESPACE = "storage"
DOMAIN = f"{NAMESPACE}.svc.cluster.local"
HUB = "cairn-hub"
CLIENT = "cairn-client"
CLIENT_ADDRESS = "192.0.2.200"
# The cairn-api Service's cluster IP.
SERVICE_ADDRESS = "192.0.2.100"
NFT_TABLE = "cairn_service"
# Bounds on waiting: a pod to pass its probes, healing to finish.
READY_TIMEOUT_SECS = 120
HEAL_TIMEOUT_SECS = 120
# The load during the rolling upgrade.
LOAD_THREADS = 4
LOAD_BODY_BYTES_MAX = 256 * 1024
SETTLE_SECS = 3


def log(text):
    print(f"[k8s] {text}", flush=True)


def fail(text):
    raise SystemExit(f"StatefulSet test FAILED: {text}")


def run(*args, check=True, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        fail(f"{' '.join(map(str, args))} exited {result.returncode}: {result.stderr.strip()} {result.stdout.strip()}")
    return result


def pod_address(name):
    """cairn-N is 192.0.2.(10+N); cairn-pool2-N (the expansion overlay's) 192.0.2.(20+N)."""
    match = re.fullmatch(r"cairn-(?:pool(\d+)-)?(\d+)", name)
    pool = int(match.group(1) or 1)
    return f"192.0.2.{10 * pool + int(match.group(2))}"


# ---- the manifests ----------------------------------------------------------------

def documents(path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def one(path, kind):
    found = [d for d in documents(path) if d["kind"] == kind]
    if len(found) != 1:
        fail(f"{path}: expected one {kind}, found {len(found)}")
    return found[0]


def container_env(container, secret):
    """The environment Kubernetes gives the container: values with $(VAR) expanded
    from the variables before them, Secret references resolved."""
    env = {}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                                       lambda m: env.get(m.group(1), m.group(0)), item["value"])
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            if ref["name"] != secret["metadata"]["name"]:
                fail(f"{item['name']} names Secret {ref['name']}, not {secret['metadata']['name']}")
            if ref["key"] in secret["stringData"]:
                env[item["name"]] = secret["stringData"][ref["key"]]
            elif not ref.get("optional"):
                fail(f"{item['name']} names key {ref['key']}, which Secret {ref['name']} lacks")
    return env


class PodSpec:
    """What a StatefulSet's pod template says the kubelet runs."""

    def __init__(self, statefulset, secret):
        if statefulset["spec"]["podManagementPolicy"] != "Parallel":
            fail(f"StatefulSet {statefulset['metadata']['name']} must start its pods in parallel")
        pod = statefulset["spec"]["template"]["spec"]
        self.name = statefulset["metadata"]["name"]
        self.replicas = statefulset["spec"]["replicas"]
        self.container = pod["containers"][0]
        self.args = self.container["args"]
        self.grace_secs = pod["terminationGracePeriodSeconds"]
        context = pod["securityContext"]
        self.user = f"{context['runAsUser']}:{context['runAsGroup']}"
        self.env = container_env(self.container, secret)
        self.readiness = self.container["readinessProbe"]
        self.data_path = self.container["volumeMounts"][0]["mountPath"]

    def pods(self):
        return [f"{self.name}-{i}" for i in range(self.replicas)]


class Manifests:
    def __init__(self):
        self.secret = one(MANIFESTS / "secret.yaml", "Secret")
        # As an operator must: a real master key where the file has a placeholder.
        if "CHANGE-ME" in self.secret["stringData"].get("CAIRN_KMS_SECRET_KEY", ""):
            key = base64.b64encode(os.urandom(32)).decode()
            self.secret["stringData"]["CAIRN_KMS_SECRET_KEY"] = f"cairn-test:{key}"
        self.pool1 = PodSpec(one(MANIFESTS / "server" / "statefulset.yaml", "StatefulSet"), self.secret)
        self.job = one(MANIFESTS / "init-job.yaml", "Job")
        self.env = self.pool1.env
        self.replicas = self.pool1.replicas
        self.job_container = self.job["spec"]["template"]["spec"]["containers"][0]
        self.job_env = container_env(self.job_container, self.secret)
        self.app_keys = (self.secret["stringData"]["CRM_ACCESS_KEY"], self.secret["stringData"]["CRM_SECRET_KEY"])
        # The expansion overlay as kubectl renders it: both StatefulSets with both pools.
        rendered = run("kubectl", "kustomize", str(REPO / "k8s" / "pool2")).stdout
        expanded = {d["metadata"]["name"]: d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "StatefulSet"}
        self.expanded = {name: PodSpec(doc, self.secret) for name, doc in expanded.items()}
        if sorted(self.expanded) != ["cairn", "cairn-pool2"]:
            fail(f"k8s/pool2 renders StatefulSets {sorted(self.expanded)}")


# ---- the image ---------------------------------------------------------------------

class Image:
    def __init__(self, binary):
        run("bash", str(REPO / "scripts" / "image.sh"), "--binary", binary, "--tag", IMAGE_TAG)
        config = json.loads(run("podman", "image", "inspect", IMAGE_TAG).stdout)[0]["Config"]
        self.entrypoint = config["Entrypoint"]
        self.env = dict(item.split("=", 1) for item in config.get("Env", []))
        try:
            self.root = run("podman", "image", "mount", IMAGE_TAG).stdout.strip()
        except BaseException:
            self.remove()
            raise

    def remove(self):
        run("podman", "image", "unmount", IMAGE_TAG, check=False)
        run("podman", "rmi", "-f", IMAGE_TAG, check=False)


# The container runtime's part, in the pod's own mount namespace (ip netns exec makes
# one): an overlay root over the image, mount points, the pod's volumes, read-only
# root, then the entrypoint under chroot as the pod's user.
CONTAINER_SCRIPT = r"""
set -eu
image=$1 state=$2 user=$3; shift 3
root=$state/root
mkdir -p "$root" "$state/upper" "$state/work"
mount -t overlay overlay -o "lowerdir=$image,upperdir=$state/upper,workdir=$state/work" "$root"
mkdir -p "$root/proc" "$root/dev" "$root/etc"
touch "$root/etc/hosts"
mount --bind /etc/hosts "$root/etc/hosts"
while [ "$1" != "--" ]; do
  mkdir -p "$root$2"
  mount --bind "$1" "$root$2"
  shift 2
done
shift
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mount -o remount,ro "$root"
exec chroot --userspec="$user" "$root" "$@"
"""


class Container:
    """One run of the image in a network namespace (one per start, as a pod's
    container: a fresh root filesystem, the same volumes)."""

    def __init__(self, image, namespace, user, env, argv, volumes, state, log_path):
        if os.path.exists(state):
            shutil.rmtree(state)
        os.makedirs(state)
        volume_args = [a for host, inside in volumes for a in (host, inside)]
        command = ["ip", "netns", "exec", namespace, "sh", "-c", CONTAINER_SCRIPT, "sh",
                   image.root, state, user, *volume_args, "--", *image.entrypoint, *argv]
        full_env = {**image.env, **env}
        self.log_path = log_path
        self.log = open(log_path, "a")
        self.process = subprocess.Popen(command, env=full_env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait(self, timeout):
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, grace_secs):
        """SIGTERM, then SIGKILL after the grace period, as kubelet; the seconds taken."""
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            if self.wait(grace_secs) is None:
                log(f"{self.log_path}: still running {grace_secs}s after SIGTERM; SIGKILL")
                self.process.kill()
                self.process.wait()
        self.log.close()
        return time.monotonic() - started

    def peak_rss_mib(self):
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
        return int(match.group(1)) / 1024 if match else None


# ---- the network ------------------------------------------------------------------

def libc_setns(path):
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    clone_newnet = 0x40000000
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, clone_newnet) != 0:
            fail(f"setns {path}: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(fd)


class Network:
    def __init__(self, pods):
        self.pods = pods
        self.names = [HUB, CLIENT, *pods]
        self.remove()
        try:
            self.build()
        except BaseException:
            self.remove()
            raise

    def build(self):
        pods = self.pods
        run("ip", "netns", "add", HUB)
        run("ip", "-n", HUB, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", HUB, "link", "set", "br0", "up")
        self.ready = set()
        members = [(CLIENT, CLIENT_ADDRESS)] + [(pod, pod_address(pod)) for pod in pods]
        hosts = "127.0.0.1 localhost\n" + "".join(
            f"{pod_address(pod)} {pod}.cairn.{DOMAIN} {pod}\n" for pod in pods
        ) + f"{SERVICE_ADDRESS} cairn-api.{DOMAIN} cairn-api\n"
        for index, (name, address) in enumerate(members):
            run("ip", "netns", "add", name)
            run("ip", "-n", HUB, "link", "add", f"v{index}", "type", "veth", "peer", "name", "eth0", "netns", name)
            run("ip", "-n", HUB, "link", "set", f"v{index}", "master", "br0", "up")
            run("ip", "-n", name, "addr", "add", f"{address}/24", "dev", "eth0")
            run("ip", "-n", name, "link", "set", "eth0", "up")
            run("ip", "-n", name, "link", "set", "lo", "up")
            os.makedirs(f"/etc/netns/{name}", exist_ok=True)
            Path(f"/etc/netns/{name}/hosts").write_text(hosts)
        # The Service: connections to its address go to one of the ready pods.
        nft = f"table ip {NFT_TABLE} {{\n chain output {{\n  type nat hook output priority -100; policy accept;\n }}\n}}\n"
        run("ip", "netns", "exec", CLIENT, "nft", "-f", "-", input=nft)

    def route_service(self):
        """Points the Service at the ready pods (of every StatefulSet), as kube-proxy does."""
        rules = [f"flush chain ip {NFT_TABLE} output"]
        if self.ready:
            targets = ", ".join(f"{i} : {pod_address(p)}" for i, p in enumerate(sorted(self.ready)))
            rules.append(f"add rule ip {NFT_TABLE} output ip daddr {SERVICE_ADDRESS} tcp dport 9000 "
                         f"dnat to numgen random mod {len(self.ready)} map {{ {targets} }}")
        run("ip", "netns", "exec", CLIENT, "nft", "-f", "-", input="\n".join(rules) + "\n")

    def remove(self):
        for name in self.names:
            run("ip", "netns", "del", name, check=False)
            shutil.rmtree(f"/etc/netns/{name}", ignore_errors=True)


# ---- the StatefulSet ---------------------------------------------------------------

class StatefulSet:
    """The pods of one StatefulSet; `spec` (a PodSpec) may change, as with kubectl apply,
    and applies to pods started afterwards."""

    def __init__(self, spec, image, network, work):
        self.spec = spec
        self.image = image
        self.network = network
        self.work = work
        self.names = spec.pods()
        self.containers = {}
        self.restarts = 0
        for name in self.names:
            self.data_dir(name, fresh=True)

    def data_dir(self, name, fresh=False):
        path = self.work / "volumes" / name
        if fresh:
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir(parents=True)
            uid, gid = (int(x) for x in self.spec.user.split(":"))
            os.chown(path, uid, gid)
        return path

    def start(self, ordinal):
        name = self.names[ordinal]
        self.restarts += 1
        # CAIRN_K8S_LOG sets the pods' log filter (CAIRN_LOG) when debugging this test.
        extra = {"CAIRN_LOG": os.environ["CAIRN_K8S_LOG"]} if "CAIRN_K8S_LOG" in os.environ else {}
        self.containers[ordinal] = Container(
            self.image, name, self.spec.user, {**self.spec.env, **extra}, self.spec.args,
            [(str(self.data_dir(name)), self.spec.data_path)],
            str(self.work / "containers" / f"{name}-{self.restarts}"), self.work / f"{name}.log")

    def probe(self, ordinal, probe):
        port = {p["name"]: p["containerPort"] for p in self.spec.container["ports"]}[probe["httpGet"]["port"]]
        url = f"http://{pod_address(self.names[ordinal])}:{port}{probe['httpGet']['path']}"
        try:
            with urllib.request.urlopen(url, timeout=probe.get("timeoutSeconds", 1)) as answer:
                return 200 <= answer.status < 400
        except OSError:
            return False

    def wait_ready(self, ordinals):
        """Probes like kubelet until every pod in `ordinals` is ready, then routes the
        Service to them."""
        deadline = time.monotonic() + READY_TIMEOUT_SECS
        pending = set(ordinals)
        while pending:
            for ordinal in sorted(pending):
                if self.containers[ordinal].process.poll() is not None:
                    fail(f"{self.names[ordinal]} exited: {self.logs(ordinal)}")
                if self.probe(ordinal, self.spec.readiness):
                    pending.discard(ordinal)
                    self.network.ready.add(self.names[ordinal])
            if pending and time.monotonic() > deadline:
                fail(f"not ready after {READY_TIMEOUT_SECS}s: {[self.names[o] for o in pending]}")
            time.sleep(0.2)
        self.network.route_service()

    def terminate(self, ordinal):
        """Out of the Service first (the endpoints controller), then SIGTERM."""
        self.network.ready.discard(self.names[ordinal])
        self.network.route_service()
        return self.containers[ordinal].stop(self.spec.grace_secs)

    def exec(self, ordinal, *argv):
        """`kubectl exec POD -- argv`: in the pod's namespaces and root, as its user."""
        pid = str(self.containers[ordinal].process.pid)
        uid, gid = self.spec.user.split(":")
        return run("nsenter", "-t", pid, "-n", "-m", "-r", "-S", uid, "-G", gid, *argv,
                   env={**self.image.env, **self.spec.env}, check=False)

    def logs(self, ordinal):
        return Path(self.work / f"{self.names[ordinal]}.log").read_text()[-3000:]

    def volume_bytes(self):
        return sum(f.stat().st_size for n in self.names for f in self.data_dir(n).rglob("*") if f.is_file())

    def stop_all(self):
        for container in self.containers.values():
            if container.process.poll() is None:
                container.process.kill()
                container.process.wait()
            container.log.close()


# ---- what runs against it ----------------------------------------------------------

def run_job(manifests, image, work, attempt):
    """The init Job's container: its arguments and environment, the bootstrap ConfigMap
    mounted where the Job mounts it, in the clients' namespace."""
    mount = manifests.job_container["volumeMounts"][0]["mountPath"]
    config = work / f"configmap-{attempt}"
    config.mkdir()
    shutil.copy(MANIFESTS / "bootstrap.yaml", config / "bootstrap.yaml")
    context = manifests.job["spec"]["template"]["spec"]["securityContext"]
    user = f"{context['runAsUser']}:{context['runAsGroup']}"
    container = Container(image, CLIENT, user, manifests.job_env, manifests.job_container["args"],
                          [(str(config), mount)], str(work / "containers" / f"job-{attempt}"), work / f"job-{attempt}.log")
    code = container.wait(READY_TIMEOUT_SECS)
    container.stop(1)
    output = Path(work / f"job-{attempt}.log").read_text()
    if code != 0:
        fail(f"the init Job's run {attempt} exited {code}: {output}")
    summary = [line for line in output.splitlines() if line.startswith("Applied:")]
    if not summary:
        fail(f"the init Job printed no summary: {output}")
    log(f"init Job run {attempt}: {summary[-1]}")
    return summary[-1], output


def s3_client(keys):
    config = botocore.config.Config(
        retries={"mode": "standard"}, s3={"addressing_style": "path"}, connect_timeout=5, read_timeout=60)
    return boto3.client("s3", endpoint_url=f"http://{SERVICE_ADDRESS}:9000", aws_access_key_id=keys[0],
                        aws_secret_access_key=keys[1], region_name="us-east-1", config=config)


def body_of(key, size):
    seed = hashlib.sha256(key.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


class Load:
    """Clients writing new keys and reading back their earlier ones through the Service."""

    def __init__(self, keys, bucket):
        self.bucket = bucket
        self.keys = keys
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked = {}
        self.failures = []
        self.requests = 0
        self.threads = [threading.Thread(target=self.worker, args=(n,)) for n in range(LOAD_THREADS)]

    def worker(self, n):
        client = s3_client(self.keys)
        rng = random.Random(n)
        mine = []
        i = 0
        while not self.stop.is_set():
            key = f"roll/{n}/{i:06d}"
            size = rng.randint(1, LOAD_BODY_BYTES_MAX)
            try:
                client.put_object(Bucket=self.bucket, Key=key, Body=body_of(key, size))
                with self.lock:
                    self.acked[key] = size
                    self.requests += 1
                mine.append((key, size))
                old_key, old_size = rng.choice(mine)
                got = client.get_object(Bucket=self.bucket, Key=old_key)["Body"].read()
                with self.lock:
                    self.requests += 1
                if got != body_of(old_key, old_size):
                    with self.lock:
                        self.failures.append(f"GET {old_key}: wrong content ({len(got)} bytes)")
            except Exception as error:  # every failure counts, whatever its kind
                with self.lock:
                    self.failures.append(f"{key}: {type(error).__name__}: {error}")
            i += 1

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def check_console_sessions(pods, root_keys):
    """Logs in to cairn-0's console and uses the session on every pod: the console
    Service may send each request to any of them."""
    opener = urllib.request.build_opener(NoRedirect)
    form = urllib.parse.urlencode({"accessKey": root_keys[0], "secretKey": root_keys[1]}).encode()
    login = urllib.request.Request(f"http://{pod_address(pods[0])}:9001/login", data=form, method="POST")
    try:
        opener.open(login, timeout=30)
        fail("the console login answered without a redirect")
    except urllib.error.HTTPError as answer:
        if answer.code != 303:
            fail(f"the console login on {pods[0]} answered {answer.code}")
        cookie = answer.headers.get("Set-Cookie", "")
    if "Secure" not in cookie or "HttpOnly" not in cookie:
        fail(f"the console cookie behind the https ingress is not Secure and HttpOnly: {cookie}")
    session = cookie.split(";", 1)[0]
    for pod in pods:
        request = urllib.request.Request(f"http://{pod_address(pod)}:9001/buckets", headers={"Cookie": session})
        with opener.open(request, timeout=30) as page:
            text = page.read().decode()
        if page.status != 200 or "crm-documents" not in text:
            fail(f"the session opened on {pods[0]} does not work on {pod}: {page.status}")
    log(f"console: a session opened on {pods[0]} works on {', '.join(pods)}")


def check_all_readable(client, bucket, acked):
    lost = []
    for key, size in sorted(acked.items()):
        try:
            if client.get_object(Bucket=bucket, Key=key)["Body"].read() != body_of(key, size):
                lost.append(f"{key}: wrong content")
        except Exception as error:
            lost.append(f"{key}: {error}")
    return lost


def check_readable(client, objects, when):
    unreadable = []
    for bucket, key in objects:
        try:
            client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as error:  # every failure counts, whatever its kind
            unreadable.append(f"{bucket}/{key}: {error}")
    if unreadable:
        fail(f"{len(unreadable)} of {len(objects)} objects unreadable {when}: {unreadable[:5]}")


def all_objects(client):
    objects = []
    for bucket in client.list_buckets()["Buckets"]:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"]):
            objects.extend((bucket["Name"], o["Key"]) for o in page.get("Contents", []))
    return objects


def expand(manifests, image, network, work, pool1, statefulsets, root, objects, numbers):
    """`kubectl apply -k k8s/pool2`: the new StatefulSet's pods start together while
    pool 1's pods restart one at a time with both pools in their arguments."""
    expanded = manifests.expanded
    log(f"adding a pool: {' '.join(expanded['cairn'].args)}")
    pool2 = StatefulSet(expanded["cairn-pool2"], image, network, work)
    statefulsets.append(pool2)
    for ordinal in range(pool2.spec.replicas):
        pool2.start(ordinal)
    pool1.spec = expanded["cairn"]
    started = time.monotonic()
    for ordinal in reversed(range(pool1.spec.replicas)):
        pool1.terminate(ordinal)
        pool1.start(ordinal)
        pool1.wait_ready([ordinal])
    pool2.wait_ready(range(pool2.spec.replicas))
    numbers["pool expansion rollout"] = f"{time.monotonic() - started:.1f} s"
    info = pool1.exec(0, "/usr/bin/cairn", "--json", "admin", "info", "cairn")
    erasure = json.loads(info.stdout.splitlines()[0])["erasure"] if info.returncode == 0 else {}
    if erasure.get("pools") != 2:
        fail(f"admin info after the expansion: {info.stdout[:1000]} {info.stderr}")
    check_readable(root, objects, "after the expansion")
    # New objects go to the pool with the most free space; both pools sit on this
    # machine's one disk, and on a tie the newest pool takes them.
    before = (pool1.volume_bytes(), pool2.volume_bytes())
    written = 0
    for n in range(8):
        key = f"after-expansion/{n}"
        body = body_of(key, 1 << 20)
        root.put_object(Bucket="crm-backups", Key=key, Body=body)
        written += len(body)
        if root.get_object(Bucket="crm-backups", Key=key)["Body"].read() != body:
            fail(f"{key} reads back wrong after the expansion")
    grew = (pool1.volume_bytes() - before[0], pool2.volume_bytes() - before[1])
    numbers["bytes written after the expansion"] = written
    numbers["growth of pool 1 / pool 2 volumes"] = f"{grew[0]} / {grew[1]} bytes"
    if grew[1] < written:
        fail(f"pool 2's volumes grew by {grew[1]} bytes for {written} bytes written: new objects did not go there")
    # The Secret's master key reached every pod: SSE-S3 works through the Service.
    sealed = root.put_object(Bucket="crm-backups", Key="sealed/dump.sql", Body=b"personal data",
                             ServerSideEncryption="AES256")
    opened = root.get_object(Bucket="crm-backups", Key="sealed/dump.sql")
    if sealed.get("ServerSideEncryption") != "AES256" or opened["Body"].read() != b"personal data":
        fail(f"SSE-S3 through the Service: {sealed.get('ServerSideEncryption')!r}")
    log(f"pool 2 took the new objects; all {len(objects)} earlier objects readable")


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: statefulset.py CAIRN_BINARY")
    binary = os.path.realpath(sys.argv[1])
    if os.geteuid() != 0:
        fail("needs root (network namespaces, mounts, chroot)")
    for tool in ("ip", "nft", "nsenter", "chroot", "podman", "node"):
        if not shutil.which(tool):
            fail(f"{tool} is not installed")
    lock = open(LOCK_FILE, "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    manifests = Manifests()
    work = Path(tempfile.mkdtemp(prefix="cairn-k8s-"))
    image = network = None
    statefulsets = []
    numbers = {}
    try:
        image = Image(binary)
        pods = manifests.pool1.pods()
        try:
            network = Network(pods + manifests.expanded["cairn-pool2"].pods())
        except SystemExit as error:
            fail(f"network namespaces cannot be made here ({error}); this test needs them")
        libc_setns(f"/run/netns/{CLIENT}")
        network.route_service()
        statefulset = StatefulSet(manifests.pool1, image, network, work)
        statefulsets.append(statefulset)

        log(f"starting {len(pods)} pods in parallel: {' '.join(manifests.pool1.args)}")
        started = time.monotonic()
        for ordinal in range(manifests.replicas):
            statefulset.start(ordinal)
        statefulset.wait_ready(range(manifests.replicas))
        numbers["all pods ready"] = f"{time.monotonic() - started:.1f} s"

        info = statefulset.exec(0, "/usr/bin/cairn", "--json", "admin", "info", "cairn")
        if info.returncode != 0:
            fail(f"kubectl exec cairn-0 -- cairn admin info cairn: {info.stdout} {info.stderr}")
        servers = json.loads(info.stdout.splitlines()[0]).get("nodes", [])
        online = [s for s in servers if s.get("state") == "online"]
        if len(online) != manifests.replicas:
            fail(f"admin info shows {len(online)} of {manifests.replicas} servers online: {info.stdout[:2000]}")
        log(f"kubectl exec cairn-0 -- cairn admin info cairn: {len(online)} servers online")

        first, _ = run_job(manifests, image, work, 1)
        second, _ = run_job(manifests, image, work, 2)
        if not re.search(r"Applied: \d+ to create", first) or " 0 to create" in first:
            fail(f"the first Job run created nothing: {first}")
        if not re.fullmatch(r"Applied: 0 to create, 0 to change, \d+ unchanged\.", second):
            fail(f"the second Job run changed something: {second}\n{Path(work / 'job-2.log').read_text()}")

        # The SDK is the compatibility suite's (tests/compat/install.sh); ES modules find
        # packages beside the script only, so the script runs from a folder linking them.
        app_dir = work / "app"
        app_dir.mkdir()
        shutil.copy(REPO / "tests" / "k8s" / "app.mjs", app_dir / "app.mjs")
        (app_dir / "node_modules").symlink_to(REPO / "tests" / "compat" / "node" / "node_modules")
        # Under ip netns exec, node resolves cairn-api through the namespace's hosts file.
        app = run("ip", "netns", "exec", CLIENT, "node", str(app_dir / "app.mjs"), check=False,
                  env={**os.environ, "CAIRN_ENDPOINT": f"http://cairn-api.{DOMAIN}:9000",
                       "CRM_ACCESS_KEY": manifests.app_keys[0], "CRM_SECRET_KEY": manifests.app_keys[1]})
        if app.returncode != 0:
            fail(f"the application's operations failed: {app.stdout} {app.stderr}")
        log(f"application operations: {app.stdout.strip().splitlines()[-1]}")
        check_console_sessions(pods, (manifests.env["CAIRN_ROOT_USER"], manifests.env["CAIRN_ROOT_PASSWORD"]))

        root = s3_client((manifests.env["CAIRN_ROOT_USER"], manifests.env["CAIRN_ROOT_PASSWORD"]))
        log("rolling upgrade under load: cairn-2, cairn-1, cairn-0")
        with Load(manifests.app_keys, "crm-attachments") as load:
            time.sleep(SETTLE_SECS)
            for ordinal in reversed(range(manifests.replicas)):
                rss = statefulset.containers[ordinal].peak_rss_mib()
                numbers[f"{pods[ordinal]} peak RSS before its restart"] = f"{rss:.0f} MiB"
                took = statefulset.terminate(ordinal)
                numbers[f"{pods[ordinal]} stop after SIGTERM"] = f"{took:.1f} s"
                statefulset.start(ordinal)
                statefulset.wait_ready([ordinal])
                time.sleep(SETTLE_SECS)
        numbers["requests during the roll"] = load.requests
        numbers["failed requests during the roll"] = len(load.failures)
        if load.failures:
            fail(f"{len(load.failures)} failed requests during the roll: {load.failures[:5]}")
        lost = check_all_readable(root, "crm-attachments", load.acked)
        numbers["acknowledged writes during the roll"] = len(load.acked)
        if lost:
            fail(f"{len(lost)} acknowledged writes lost: {lost[:5]}")

        log("cairn-1 loses its volume: deleted, recreated with an empty /data")
        statefulset.terminate(1)
        statefulset.data_dir("cairn-1", fresh=True)
        statefulset.start(1)
        statefulset.wait_ready([1])
        objects = all_objects(root)
        # cairn-1's scanner starts a full pass when it starts; once a pass has completed
        # (the counter restarts with the process), every object has been checked and
        # healed onto its empty volume.
        deadline = time.monotonic() + HEAL_TIMEOUT_SECS
        heal = {}
        while time.monotonic() < deadline:
            answer = statefulset.exec(1, "/usr/bin/cairn", "--json", "admin", "info", "cairn")
            if answer.returncode == 0:
                heal = json.loads(answer.stdout.splitlines()[0]).get("heal") or {}
                if heal.get("scansCompleted", 0) >= 1:
                    break
            time.sleep(1)
        else:
            fail(f"cairn-1 completed no scan within {HEAL_TIMEOUT_SECS}s: {heal}")
        healed = heal.get("objectsHealed", 0)
        if heal.get("healFailures"):
            fail(f"healing failed on cairn-1: {heal}")
        numbers["objects healed by cairn-1's first scan"] = f"{healed} of {len(objects)}"
        # The proof: with cairn-0 stopped, EC 2+1 reads need cairn-1's refilled shards.
        statefulset.terminate(0)
        check_readable(root, objects, "without cairn-0")
        log(f"all {len(objects)} objects readable with cairn-0 down after cairn-1's refill")
        statefulset.start(0)
        statefulset.wait_ready([0])

        expand(manifests, image, network, work, statefulset, statefulsets, root, objects, numbers)
        for name, value in numbers.items():
            print(f"  {name}: {value}")
        log("StatefulSet test passed")
    finally:
        for statefulset in statefulsets:
            statefulset.stop_all()
        if network:
            network.remove()
        if image:
            image.remove()
        if os.environ.get("CAIRN_K8S_KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"kept {work}")


if __name__ == "__main__":
    main()
