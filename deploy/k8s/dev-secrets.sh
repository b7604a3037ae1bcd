#!/usr/bin/env bash
# Print fresh random Secrets for the dev overlay (in-cluster databases and Redis) as YAML:
#   deploy/k8s/dev-secrets.sh [namespace] | kubectl apply -f -
# Needs python3 with `cryptography` (the repo's .venv, or any service image) and kubectl.
# Nothing is written to disk; run it once per cluster (re-running rotates every secret).
set -euo pipefail
ns=${1:-uskalla-dev}
py=${PYTHON:-python3}
here=$(cd "$(dirname "$0")/../.." && pwd)
[[ -x $here/.venv/bin/python ]] && py=${PYTHON:-$here/.venv/bin/python}
rand() { "$py" -c 'import secrets; print(secrets.token_urlsafe(24))'; }
keys=$("$py" - <<'PY'
from cryptography.hazmat.primitives import serialization as s
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
k = Ed25519PrivateKey.generate()
print(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()).decode(), end="")
print(k.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo).decode(), end="")
PY
)
private=$(sed -n '/BEGIN PRIVATE/,/END PRIVATE/p' <<<"$keys")
public=$(sed -n '/BEGIN PUBLIC/,/END PUBLIC/p' <<<"$keys")
mk() { kubectl create secret generic "$@" -n "$ns" --dry-run=client -o yaml; echo ---; }
mk uskalla-jwt-public --from-literal=jwt-public.pem="$public"
mk members-jwt-private --from-literal=jwt-private.pem="$private"
mk uskalla-internal-token --from-literal=token="$(rand)"
mk uskalla-unsubscribe-secret --from-literal=secret="$(rand)"
mk uskalla-event-token-keys --from-literal=keys="$(rand)"
mk uskalla-redis --from-literal=url=redis://redis:6379/0 --from-literal=address=redis:6379 \
  --from-literal=password=
for svc in members experiments notifications; do
  pw=$(rand)
  mk "$svc-database" --from-literal=password="$pw" \
    --from-literal=url="postgresql://$svc:$pw@$svc-postgres:5432/$svc"
done
mk notifications-smtp --from-literal=username= --from-literal=password=
