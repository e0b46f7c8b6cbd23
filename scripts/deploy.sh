#!/usr/bin/env bash
# Deploys Cairn to the current kubectl context, in order, and waits for it:
#   1. refuses credentials still at their placeholder (CHANGE-ME) or MinIO's default;
#   2. applies the namespace, the Secret if the cluster has none yet (an existing one is
#      never overwritten), and the rest of k8s/storage (or the overlay given with
#      --overlay, e.g. k8s/pool2);
#   3. waits for every StatefulSet's rollout and for the init Job;
#   4. prints the endpoints and the next commands.
# Safe to run again: kubectl apply changes only what changed, and the init Job's
# bootstrap changes nothing the second time (a finished Job is re-created so that an
# edited bootstrap.yaml is applied).
#
#   scripts/deploy.sh [--overlay DIR] [--timeout SECS]
set -euo pipefail
cd "$(dirname "$0")/.."

overlay=k8s/storage
timeout=600
while [[ $# -gt 0 ]]; do
  case $1 in
    --overlay) overlay=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    *) echo "usage: $0 [--overlay DIR] [--timeout SECS]" >&2; exit 2 ;;
  esac
done
readonly NAMESPACE=storage

command -v kubectl > /dev/null || { echo "deploy: kubectl is not installed" >&2; exit 1; }
kubectl kustomize "$overlay" > /dev/null

# The credentials: the Secret in the cluster if there is one (made with kubectl create
# secret, and never overwritten here), else k8s/storage/secret.yaml, applied below.
readonly SECRET_FILE=k8s/storage/secret.yaml
secret_exists=no
kubectl -n "$NAMESPACE" get secret cairn-credentials > /dev/null 2>&1 && secret_exists=yes
secret_value() { # KEY -> the value the cluster holds, or the file's
  local key=$1
  if [[ $secret_exists == yes ]]; then
    kubectl -n "$NAMESPACE" get secret cairn-credentials -o "jsonpath={.data.$key}" | base64 -d
  else
    awk -v key="$key" '$1 == key ":" { print $2; exit }' "$SECRET_FILE"
  fi
}
for key in CAIRN_ROOT_USER CAIRN_ROOT_PASSWORD CRM_ACCESS_KEY CRM_SECRET_KEY; do
  value=$(secret_value "$key")
  if [[ -z $value || $value == *CHANGE-ME* || $value == minioadmin ]]; then
    echo "deploy: $key is unset, a CHANGE-ME placeholder or MinIO's default; set it in k8s/storage/secret.yaml or create the Secret first" >&2
    exit 1
  fi
done
# The master key of encryption at rest may be left out (no SSE-S3), never a placeholder.
kms_key=$(secret_value CAIRN_KMS_SECRET_KEY)
if [[ $kms_key == *CHANGE-ME* ]]; then
  echo "deploy: CAIRN_KMS_SECRET_KEY is a CHANGE-ME placeholder; set name:base64-of-32-bytes or remove it" >&2
  exit 1
elif [[ -z $kms_key ]]; then
  echo "deploy: no CAIRN_KMS_SECRET_KEY: objects will not be encrypted at rest" >&2
fi

kubectl apply -f k8s/storage/namespace.yaml
if [[ $secret_exists == no ]]; then
  kubectl apply -f "$SECRET_FILE"
fi
# A finished Job's template cannot change: delete it so the new one runs the bootstrap again.
kubectl -n "$NAMESPACE" delete job cairn-init --ignore-not-found --wait=true
kubectl apply -k "$overlay"

for statefulset in $(kubectl -n "$NAMESPACE" get statefulset -l app.kubernetes.io/name=cairn -o name); do
  kubectl -n "$NAMESPACE" rollout status "$statefulset" --timeout="${timeout}s"
done
kubectl -n "$NAMESPACE" wait --for=condition=complete job/cairn-init --timeout="${timeout}s"

cat << NEXT
Cairn is up in namespace $NAMESPACE.
  S3 API inside the cluster:  http://cairn-api.$NAMESPACE.svc.cluster.local:9000
  Console inside the cluster: http://cairn-console.$NAMESPACE.svc.cluster.local:9001
  Through the ingress:        the hosts in $overlay (k8s/storage/ingress.yaml)
Next:
  kubectl -n $NAMESPACE exec cairn-0 -- cairn admin info cairn
  kubectl -n $NAMESPACE logs job/cairn-init
  kubectl label namespace YOUR-APP cairn.io/client=true   # let an application in
NEXT
