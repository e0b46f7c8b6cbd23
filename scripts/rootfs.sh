#!/usr/bin/env bash
# Assembles the container image's root filesystem from a built `cairn` binary: the
# binary (stripped), the shared libraries `ldd` lists, and the few files a non-root
# process needs (passwd and group for user 10001, nsswitch.conf so peer names resolve
# through /etc/hosts then DNS). Both the Containerfile's build stage and
# scripts/image.sh (host build) run it, so the two images hold the same files.
#
#   scripts/rootfs.sh BINARY ROOTFS_DIR
set -euo pipefail

# The image's user and group: not root, and not an ID a host account is likely to own.
readonly CAIRN_UID=10001
readonly CAIRN_GID=10001

if [[ $# -ne 2 ]]; then
  echo "usage: $0 BINARY ROOTFS_DIR" >&2
  exit 2
fi
binary=$1
root=$2
if [[ ! -x $binary ]]; then
  echo "rootfs: $binary is not an executable file" >&2
  exit 1
fi
if [[ -e $root ]]; then
  echo "rootfs: $root already exists; give a new folder" >&2
  exit 1
fi

# proc, dev and sys are mount points: a read-only root cannot grow them at run time.
mkdir -p "$root"/{usr/bin,etc,data,home/cairn,tmp,proc,dev,sys}
# Line tables are for profiling on the build host; the image does not need them.
objcopy --strip-debug "$binary" "$root/usr/bin/cairn"
chmod 0755 "$root/usr/bin/cairn"

# Every library the dynamic loader needs, at the path the binary asks for. ldd prints
# "name => /path (addr)" for libraries and "/path (addr)" for the loader itself.
libraries=$(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
if [[ -z $libraries ]]; then
  echo "rootfs: ldd listed no libraries for $binary (a static binary needs none: remove this check)" >&2
  exit 1
fi
for library in $libraries; do
  mkdir -p "$root$(dirname "$library")"
  cp -L "$library" "$root$library"
done

cat > "$root/etc/passwd" <<PASSWD
root:x:0:0:root:/root:/sbin/nologin
cairn:x:$CAIRN_UID:$CAIRN_GID:cairn:/home/cairn:/sbin/nologin
PASSWD
cat > "$root/etc/group" <<GROUP
root:x:0:
cairn:x:$CAIRN_GID:
GROUP
# Pods resolve peers (cairn-1.cairn.storage.svc.cluster.local) through the files
# Kubernetes mounts: /etc/hosts first, then the cluster DNS in /etc/resolv.conf.
echo "hosts: files dns" > "$root/etc/nsswitch.conf"

# As root the folders get their owner here; otherwise the Containerfile's COPY --chown
# gives it.
if [[ $(id -u) -eq 0 ]]; then
  chown "$CAIRN_UID:$CAIRN_GID" "$root/data" "$root/home/cairn"
fi
chmod 1777 "$root/tmp"
