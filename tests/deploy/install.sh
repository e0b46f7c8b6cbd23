#!/usr/bin/env bash
# Installs what the deployment checks need, if missing: podman (builds the image),
# the shellcheck linter (every script), kubectl (renders the kustomizations offline) and
# kubernetes-validate (every manifest, strict, against the Kubernetes version pinned in
# tests/deploy/validate.sh).
set -euo pipefail
PY=${PYTHON:-python3}
# The pinned validator; its release names the newest Kubernetes schema it carries.
KUBERNETES_VALIDATE=1.37.0
# tests/k8s/statefulset.py reads the manifests with it.
PYYAML=6.0.3

SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo"
missing=()
command -v podman > /dev/null || missing+=(podman)
command -v shellcheck > /dev/null || missing+=(shellcheck)
command -v kubectl > /dev/null || missing+=(kubectl)
if [[ ${#missing[@]} -gt 0 ]]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi
command -v podman > /dev/null || { echo "podman did not install" >&2; exit 1; }
command -v shellcheck > /dev/null || { echo "shellcheck did not install" >&2; exit 1; }
command -v kubectl > /dev/null || { echo "kubectl did not install" >&2; exit 1; }

if ! "$PY" -m pip list --format=freeze 2> /dev/null | grep -qix "kubernetes-validate==$KUBERNETES_VALIDATE"; then
  "$PY" -m pip install -q "kubernetes-validate==$KUBERNETES_VALIDATE"
fi
"$PY" -c 'import yaml' 2> /dev/null || "$PY" -m pip install -q "PyYAML==$PYYAML"
echo "deploy tools: $(podman --version), shellcheck $(shellcheck --version | sed -n 's/^version: //p'), kubernetes-validate $KUBERNETES_VALIDATE"
