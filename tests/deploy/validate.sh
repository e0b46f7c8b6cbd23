#!/usr/bin/env bash
# Validates every Kubernetes manifest under k8s/ with kubernetes-validate in strict mode
# (unknown fields are errors) against a current Kubernetes version:
# - each kustomization (k8s/storage, k8s/pool2) as `kubectl kustomize` renders it;
# - every other manifest file on its own. Custom resources (ServiceMonitor,
#   HelmChartConfig) have no schema in kubernetes-validate: they are parsed and their
#   kind checked against the list below, which is all that can be checked offline.
set -euo pipefail
cd "$(dirname "$0")/../.."

# The Kubernetes version the manifests are validated against.
readonly KUBERNETES_VERSION=1.37.0
# Custom resource kinds the manifests may use; the validator has no schema for them.
readonly CUSTOM_KINDS="ServiceMonitor HelmChartConfig"

fail() { echo "manifest validation FAILED: $*" >&2; exit 1; }
command -v kubernetes-validate > /dev/null || fail "kubernetes-validate is not installed (tests/deploy/install.sh)"
command -v kubectl > /dev/null || fail "kubectl is not installed (tests/deploy/install.sh)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
validate() { # FILE: strict validation; warnings allowed only for the custom kinds
  local file=$1 output
  output=$(kubernetes-validate --strict --quiet -k "$KUBERNETES_VERSION" "$file" 2>&1) || fail "$output"
  while IFS= read -r line; do
    [[ -z $line ]] && continue
    local known=no kind
    for kind in $CUSTOM_KINDS; do
      [[ $line == *"Couldn't find schema for kind $kind "* ]] && known=yes
    done
    [[ $known == yes ]] || fail "$line"
  done <<< "$output"
}

count=0
for dir in k8s/storage k8s/pool2; do
  rendered="$work/$(basename "$dir").yaml"
  kubectl kustomize "$dir" > "$rendered" || fail "kubectl kustomize $dir"
  validate "$rendered"
  # Applying a kustomization must never overwrite credentials made by hand.
  if grep -q '^kind: Secret' "$rendered"; then fail "$dir renders a Secret; credentials are applied apart"; fi
  echo "ok: $dir renders $(grep -c '^kind:' "$rendered") valid resources"
  count=$((count + 1))
done
while IFS= read -r file; do
  case $(basename "$file") in
    kustomization.yaml | bootstrap.yaml) continue ;; # not Kubernetes resources
  esac
  validate "$file"
  count=$((count + 1))
done < <(find k8s -name '*.yaml' | sort)
# deploy.sh must refuse the placeholder credentials before it touches a cluster (no
# cluster is reachable here: an empty kubeconfig).
refusal=$(KUBECONFIG="$work/none" bash scripts/deploy.sh 2>&1) && fail "deploy.sh accepted the CHANGE-ME credentials"
[[ $refusal == *"CHANGE-ME placeholder"* ]] || fail "deploy.sh failed for another reason: $refusal"
echo "ok: deploy.sh refuses the placeholder credentials"
echo "manifests valid: $count files and kustomizations against Kubernetes $KUBERNETES_VERSION (strict)"
