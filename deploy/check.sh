#!/usr/bin/env bash
# Offline Kubernetes manifest checks, for `.ci/run` and humans: render every overlay with
# `kubectl kustomize`, then validate each rendered object with `kubernetes-validate --strict`
# against every Kubernetes version we support. KEDA's custom resources (keda.sh) have no
# built-in schema and are skipped by kind; any other kind without a schema is a failure.
# Exit status: 0 when everything renders and validates, 1 otherwise.
# Usage: deploy/check.sh            (K8S_VERSIONS="1.30.0 1.33.0" to choose the versions)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-$root/.venv/bin/python}
validate=${KUBERNETES_VALIDATE:-$root/.venv/bin/kubernetes-validate}
versions=${K8S_VERSIONS:-1.30.0 1.33.0 1.36.0}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
status=0

for overlay in "$root"/deploy/k8s/overlays/*/; do
  name=$(basename "$overlay")
  if ! kubectl kustomize "$overlay" >"$out/$name.yaml" 2>"$out/$name.err"; then
    echo "FAIL $name: kubectl kustomize: $(cat "$out/$name.err")"; status=1; continue
  fi
  # One file per object, without KEDA's custom resources.
  mkdir -p "$out/$name"
  if ! "$py" - "$out/$name.yaml" "$out/$name" <<'PY'
import sys
from pathlib import Path
import yaml
SKIP_GROUPS = ("keda.sh/",)
docs = [d for d in yaml.safe_load_all(Path(sys.argv[1]).read_text()) if d]
kept = 0
for i, doc in enumerate(docs):
    if doc.get("apiVersion", "").startswith(SKIP_GROUPS):
        continue
    kind, meta = doc.get("kind", "?"), doc.get("metadata", {})
    Path(sys.argv[2], f"{i:03d}-{kind}-{meta.get('name', '?')}.yaml").write_text(yaml.safe_dump(doc))
    kept += 1
print(f"{sys.argv[2].rsplit('/', 1)[-1]}: {kept} objects, {len(docs) - kept} KEDA objects skipped")
PY
  then status=1; continue; fi
  for version in $versions; do
    report=$("$validate" --strict --quiet -k "$version" "$out/$name"/*.yaml 2>&1)
    rc=$?
    # --quiet prints only warnings (e.g. no schema for a kind) and failures: any output fails.
    if [[ $rc -ne 0 || -n $report ]]; then
      echo "FAIL $name (Kubernetes $version):"; echo "$report" | sed 's/^/  /'; status=1
    else
      echo "ok   $name (Kubernetes $version)"
    fi
  done
done
exit $status
