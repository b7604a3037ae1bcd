#!/usr/bin/env bash
# Offline Kubernetes manifest checks, for `.ci/run` and humans (`make check-deploy`):
# 1. render every overlay with `kubectl kustomize`;
# 2. validate each built-in object with `kubernetes-validate --strict` against every Kubernetes
#    version we support;
# 3. validate each custom resource we ship (HTTPRoute, ServiceMonitor, PodMonitor,
#    PrometheusRule) against its CRD's schema vendored in deploy/k8s/schemas (no network),
#    unknown fields refused as in `kubectl apply --validate=strict`. KEDA's custom resources
#    are only policy-checked; any other kind without a schema is a failure;
# 4. run the policy checks on the rendered objects (tests/deploy/test_k8s_manifests.py:
#    initContainers waiting for the schema, preStop, topology spread, monitors, no Secret as
#    an environment variable, every process's metrics port scraped by the PodMonitor and open to
#    the monitoring namespace only, no metrics port in any route...). CHECK_POLICIES=0 skips them.
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
  if ! "$py" - "$out/$name.yaml" "$out/$name" "$root/deploy/k8s/schemas" <<'PY'
import sys
from pathlib import Path
import jsonschema
import yaml
SKIP_GROUPS = ("keda.sh/",)


def strict(schema):
    """A CRD schema as the API server applies it with strict field validation: an object with
    `properties` takes no other field."""
    if isinstance(schema, dict):
        schema = {k: strict(v) for k, v in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
    elif isinstance(schema, list):
        schema = [strict(v) for v in schema]
    return schema


schemas = {}
for f in Path(sys.argv[3]).glob("*.yaml"):
    group, version, kind = f.stem.split("_")
    schemas[(f"{group}/{version}", kind.lower())] = strict(yaml.safe_load(f.read_text()))
docs = [d for d in yaml.safe_load_all(Path(sys.argv[1]).read_text()) if d]
kept = custom = failed = 0
for i, doc in enumerate(docs):
    if doc.get("apiVersion", "").startswith(SKIP_GROUPS):
        continue
    kind, meta = doc.get("kind", "?"), doc.get("metadata", {})
    schema = schemas.get((doc.get("apiVersion"), kind.lower()))
    if schema is not None:
        custom += 1
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=str)
        for error in errors:
            where = "/".join(str(p) for p in error.absolute_path)
            print(f"FAIL {kind}/{meta.get('name')} (vendored CRD schema): {where}: {error.message}")
        failed += bool(errors)
        continue
    Path(sys.argv[2], f"{i:03d}-{kind}-{meta.get('name', '?')}.yaml").write_text(yaml.safe_dump(doc))
    kept += 1
print(
    f"{sys.argv[2].rsplit('/', 1)[-1]}: {kept} objects, {custom} custom resources checked against"
    f" vendored CRD schemas, {len(docs) - kept - custom} KEDA objects skipped"
)
sys.exit(1 if failed else 0)
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
if [[ ${CHECK_POLICIES:-1} != 0 ]]; then
  # The policy tests, not the ones that run this script (they set CHECK_POLICIES=0).
  if "$py" -m pytest -q -p no:cacheprovider -m "deploy and not docker" -k "not check_script" \
      "$root/tests/deploy/test_k8s_manifests.py" >"$out/policies.txt" 2>&1; then
    echo "ok   policies ($(tail -n 1 "$out/policies.txt"))"
  else
    echo "FAIL policies:"; sed 's/^/  /' "$out/policies.txt"; status=1
  fi
fi
exit $status
