#!/usr/bin/env bash
# Builds the Cairn container image with podman from the Containerfile.
#
#   scripts/image.sh [--binary PATH] [--tag NAME]   binary built on this host (default)
#   scripts/image.sh --in-container [--tag NAME]    the Containerfile's own build stage
#
# The host build compiles `cairn` (release) unless --binary names one, assembles its root
# filesystem with scripts/rootfs.sh, and hands that folder to the Containerfile as its
# `build` stage (`--build-context build=DIR`), so no base image is pulled. The image is
# the same either way: the final stage copies the same files. Prints the image's name
# and size on the last line.
set -euo pipefail
# A relative --binary names a file from where the script was called.
caller_dir=$PWD
cd "$(dirname "$0")/.."

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
tag="localhost/cairn:$version"
binary=""
mode=host
while [[ $# -gt 0 ]]; do
  case $1 in
    --binary) binary=$(cd "$caller_dir" && realpath "$2"); shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --in-container) mode=container; shift ;;
    *) echo "usage: $0 [--binary PATH | --in-container] [--tag NAME]" >&2; exit 2 ;;
  esac
done
if ! command -v podman > /dev/null; then
  echo "image: podman is not installed (Debian: apt-get install podman)" >&2
  exit 1
fi

revision=$(git rev-parse HEAD 2> /dev/null || echo unknown)
# Without user information: a CI remote can carry a token (https://user:TOKEN@host/...).
source_url=$(git remote get-url origin 2> /dev/null | sed -E 's#(://)[^/@]*@#\1#' || true)
source_url=${source_url:-file://$PWD}
build_args=(--build-arg "VERSION=$version" --build-arg "REVISION=$revision" --build-arg "SOURCE=$source_url")

if [[ $mode == host ]]; then
  if [[ -z $binary ]]; then
    cargo build --release --locked -p cairn
    binary="${CARGO_TARGET_DIR:-target}/release/cairn"
  fi
  context=$(mktemp -d)
  trap 'rm -rf "$context"' EXIT
  bash scripts/rootfs.sh "$binary" "$context/rootfs"
  build_args+=(--build-context "build=$context")
fi

# The build context is the checkout; .containerignore keeps target folders and data out.
podman build --file Containerfile --tag "$tag" "${build_args[@]}" .
size=$(podman image inspect "$tag" --format '{{.Size}}')
echo "image $tag: $size bytes ($((size / 1024 / 1024)) MiB)"
