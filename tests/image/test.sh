#!/usr/bin/env bash
# Checks the container image as a container runtime would use it, on a machine where
# podman builds images but cannot run containers:
#   1. builds it with scripts/image.sh from the given binary;
#   2. checks its configuration: entrypoint, non-root user, ports, /data volume, labels;
#   3. mounts its filesystem read-only (as Kubernetes' readOnlyRootFilesystem), binds a
#      fresh data folder on /data, and runs the image's own entrypoint and command under
#      chroot as user 10001, the way the runtime would;
#   4. talks to that server with the image's own `cairn` client, configured only by the
#      CAIRN_HOST_cairn variable the pod's environment sets (`kubectl exec cairn-0 --
#      cairn admin info cairn`), then stops it with SIGTERM and expects a clean exit.
# Needs root (mount, chroot) and podman; without them it fails, it does not skip.
#
#   tests/image/test.sh CAIRN_BINARY
set -euo pipefail
cd "$(dirname "$0")/../.."

# Longest wait for the server to print its address and to answer as ready.
readonly START_WAIT_SECS=30
# Longest wait for the server to exit after SIGTERM.
readonly STOP_WAIT_SECS=30
readonly TAG=localhost/cairn-image-test:ci
readonly USER_SPEC=10001:10001
readonly ROOT_USER=imagetest
readonly ROOT_PASSWORD=image-test-secret

fail() { echo "image test FAILED: $*" >&2; exit 1; }

[[ $# -eq 1 ]] || { echo "usage: $0 CAIRN_BINARY" >&2; exit 2; }
binary=$(realpath "$1")
[[ $(id -u) -eq 0 ]] || fail "needs root for mount and chroot"
command -v podman > /dev/null || fail "podman is not installed"
command -v chroot > /dev/null || fail "chroot is not installed"
command -v mountpoint > /dev/null || fail "mountpoint is not installed"

work=$(mktemp -d)
root="$work/root"
server_pid=""
image_mount=""
cleanup() {
  if [[ -n $server_pid ]]; then kill -9 "$server_pid" 2> /dev/null || true; fi
  for point in "$root/data" "$root/proc" "$root/dev" "$root"; do
    if mountpoint -q "$point" 2> /dev/null; then umount -l "$point" || true; fi
  done
  if [[ -n $image_mount ]]; then podman image unmount "$TAG" > /dev/null 2>&1 || true; fi
  podman rmi -f "$TAG" > /dev/null 2>&1 || true
  # Never across a mount left behind (the root's /dev is the host's /dev).
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

echo "== build"
bash scripts/image.sh --binary "$binary" --tag "$TAG" | tail -n 1

echo "== configuration"
config() { podman image inspect "$TAG" --format "$1"; }
[[ $(config '{{.Config.User}}') == "$USER_SPEC" ]] || fail "user is $(config '{{.Config.User}}'), not $USER_SPEC"
[[ $(config '{{json .Config.Entrypoint}}') == '["/usr/bin/cairn"]' ]] || fail "entrypoint is $(config '{{json .Config.Entrypoint}}')"
ports=$(config '{{json .Config.ExposedPorts}}')
[[ $ports == *'"9000/tcp"'* && $ports == *'"9001/tcp"'* ]] || fail "exposed ports are $ports"
[[ $(config '{{json .Config.Volumes}}') == *'"/data"'* ]] || fail "no /data volume"
for label in version source licenses revision; do
  value=$(config "{{index .Config.Labels \"org.opencontainers.image.$label\"}}")
  [[ -n $value && $value != "<no value>" ]] || fail "label org.opencontainers.image.$label is missing"
done
size=$(config '{{.Size}}')
echo "image size: $size bytes ($((size / 1024 / 1024)) MiB)"
files=$(podman image mount "$TAG")
image_mount=yes
[[ ! -e $files/bin/sh && ! -e $files/usr/bin/sh ]] || fail "the image has a shell; the final stage should hold only cairn and its libraries"

echo "== run the entrypoint under chroot as $USER_SPEC, root filesystem read-only"
mkdir -p "$root"
mount --bind "$files" "$root"
mount -o remount,bind,ro "$root"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
data="$work/data"
mkdir -p "$data"
chown "$USER_SPEC" "$data"
mount --bind "$data" "$root/data"
if touch "$root/probe" 2> /dev/null; then fail "the root filesystem is writable; the test would not catch writes outside /data"; fi

mapfile -t entrypoint < <(config '{{range .Config.Entrypoint}}{{println .}}{{end}}' | sed '/^$/d')
mapfile -t command < <(config '{{range .Config.Cmd}}{{println .}}{{end}}' | sed '/^$/d')
mapfile -t image_env < <(config '{{range .Config.Env}}{{println .}}{{end}}' | sed '/^$/d')
# The runtime's view: the image's environment plus what the pod sets. The listen
# address is added last so the test can use an ephemeral port on loopback.
pod_env=("${image_env[@]}" "CAIRN_ROOT_USER=$ROOT_USER" "CAIRN_ROOT_PASSWORD=$ROOT_PASSWORD")
in_image() {
  env -i "${pod_env[@]}" "$@"
}
log="$work/server.log"
# A simple command in the background: env execs chroot, which execs the entrypoint, so
# $! is the server's own process and SIGTERM reaches it as the runtime's would.
env -i "${pod_env[@]}" chroot --userspec="$USER_SPEC" "$root" "${entrypoint[@]}" "${command[@]}" \
  --address 127.0.0.1:0 --console-address 127.0.0.1:0 > "$log" 2>&1 &
server_pid=$!
address=""
for _ in $(seq 1 $((START_WAIT_SECS * 10))); do
  address=$(sed -n 's|^API: http://||p' "$log" | head -n 1)
  [[ -n $address ]] && break
  kill -0 "$server_pid" 2> /dev/null || { cat "$log" >&2; fail "the server exited at start"; }
  sleep 0.1
done
[[ -n $address ]] || { cat "$log" >&2; fail "the server printed no address in ${START_WAIT_SECS}s"; }
echo "server at $address"

pod_env+=("CAIRN_HOST_cairn=http://$ROOT_USER:$ROOT_PASSWORD@$address")
cli() { in_image chroot --userspec="$USER_SPEC" "$root" /usr/bin/cairn "$@"; }
ready=no
for _ in $(seq 1 $((START_WAIT_SECS * 10))); do
  if cli admin info cairn > "$work/info.txt" 2>&1; then ready=yes; break; fi
  sleep 0.1
done
[[ $ready == yes ]] || { cat "$work/info.txt" "$log" >&2; fail "cairn admin info cairn never succeeded"; }
cat "$work/info.txt"
cli mb cairn/image-probe
cli cp /etc/passwd cairn/image-probe/passwd
cli cat cairn/image-probe/passwd > "$work/passwd.back"
cmp "$work/passwd.back" "$files/etc/passwd" || fail "the object read back differs from what was written"
# The console, served by the same binary with no files outside it: its login page answers.
console=$(sed -n 's|^Console: http://||p' "$log" | head -n 1)
[[ -n $console ]] || fail "the server printed no console address"
login_status=$(curl -s -o /dev/null -w '%{http_code}' "http://$console/login")
[[ $login_status == 200 ]] || fail "the console's login page answered $login_status"
owners=$(find "$data" -mindepth 1 ! -user 10001 | head -n 3)
[[ -z $owners ]] || fail "files under /data not owned by 10001: $owners"
[[ -n $(find "$data" -mindepth 1 | head -n 1) ]] || fail "the server wrote nothing under /data"

echo "== SIGTERM"
kill -TERM "$server_pid"
for _ in $(seq 1 $((STOP_WAIT_SECS * 10))); do
  kill -0 "$server_pid" 2> /dev/null || break
  sleep 0.1
done
if kill -0 "$server_pid" 2> /dev/null; then fail "the server still runs ${STOP_WAIT_SECS}s after SIGTERM"; fi
wait "$server_pid" && status=0 || status=$?
server_pid=""
[[ $status -eq 0 ]] || { cat "$log" >&2; fail "the server exited with $status after SIGTERM"; }
grep -q "server stopped" "$log" || { cat "$log" >&2; fail "the server did not log a clean stop"; }
echo "image test passed: $TAG, $((size / 1024 / 1024)) MiB"
