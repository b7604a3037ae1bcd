"""Kubernetes manifests: every overlay renders, validates offline and follows our policies."""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
SERVICES = ("members", "experiments", "notifications")
QUEUES = {
    "members": {"members.events"},
    "experiments": {"experiments.events"},
    "notifications": {"notifications.events", "notifications.mail"},
}
WORKLOADS = ("Deployment", "StatefulSet", "Job")
PINNED_TAG = re.compile(r"^[^:@]+(:\d+\.\d+(\.\d+)?([.-][\w.]+)?|@sha256:[0-9a-f]{64})$")
Objects = list[dict[str, Any]]

pytestmark = pytest.mark.deploy


def of_kind(objects: Objects, *kinds: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] in kinds]


def name_of(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["name"])


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"].get("labels", {})


def containers(workload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = pod_spec(workload)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Does a label selector (matchLabels/matchExpressions or a plain map) match `labels`?"""
    match = selector.get("matchLabels", {} if "matchExpressions" in selector else selector)
    if any(labels.get(k) != v for k, v in match.items()):
        return False
    for expr in selector.get("matchExpressions", []):
        value, op = labels.get(expr["key"]), expr["operator"]
        if op == "In" and value not in expr["values"]:
            return False
        if op == "NotIn" and value in expr["values"]:
            return False
        if op == "Exists" and value is None:
            return False
        if op == "DoesNotExist" and value is not None:
            return False
    return True


# ---- offline schema validation --------------------------------------------------------


def test_check_script_validates_every_overlay() -> None:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    out = subprocess.run(
        [str(ROOT / "deploy" / "check.sh")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    for overlay in (p.name for p in (K8S / "overlays").iterdir()):
        assert f"ok   {overlay} (Kubernetes" in out.stdout


def test_check_script_fails_on_a_broken_manifest(tmp_path: Path) -> None:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    gateway = tmp_path / "deploy" / "k8s" / "base" / "gateway.yaml"
    gateway.write_text(
        gateway.read_text().replace("containerPort: 8080", 'containerPort: "http"', 1)
    )
    env = {
        **os.environ,
        "PYTHON": str(ROOT / ".venv" / "bin" / "python"),
        "KUBERNETES_VALIDATE": str(ROOT / ".venv" / "bin" / "kubernetes-validate"),
        "K8S_VERSIONS": "1.33.0",
    }
    out = subprocess.run(
        [str(tmp_path / "deploy" / "check.sh")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert out.returncode != 0
    assert "containerPort" in out.stdout


def test_no_secret_values_are_rendered_or_referenced(overlay: tuple[str, Objects]) -> None:
    _, objects = overlay
    assert of_kind(objects, "Secret") == []
    for kustomization in K8S.rglob("kustomization.yaml"):
        config = yaml.safe_load(kustomization.read_text())
        listed = [str(r) for key in ("resources", "components") for r in config.get(key, [])]
        assert not any("secret" in r for r in listed), kustomization
        assert "secretGenerator" not in config, kustomization


def test_every_referenced_secret_is_documented_in_the_example(overlay: tuple[str, Objects]) -> None:
    _, objects = overlay
    documented = {
        name_of(s): set(s.get("stringData", {}))
        for s in yaml.safe_load_all((K8S / "secrets.example.yaml").read_text())
        if s
    }
    for workload in of_kind(objects, *WORKLOADS):
        spec = pod_spec(workload)
        for volume in spec.get("volumes", []):
            for source in volume.get("projected", {}).get("sources", []):
                if "secret" in source:
                    secret = source["secret"]
                    assert secret["name"] in documented
                    assert {i["key"] for i in secret.get("items", [])} <= documented[secret["name"]]
        for container in containers(workload):
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in documented.get(ref["name"], set()), (
                        name_of(workload),
                        ref,
                    )


def test_services_that_seal_link_tokens_mount_the_shared_keys(overlay: tuple[str, Objects]) -> None:
    _, objects = overlay
    for workload in of_kind(objects, *WORKLOADS):
        sealing = pod_labels(workload).get("app.kubernetes.io/name") in {"members", "notifications"}
        mounted = {
            source["secret"]["name"]
            for volume in pod_spec(workload).get("volumes", [])
            for source in volume.get("projected", {}).get("sources", [])
            if "secret" in source
        }
        assert ("uskalla-event-token-keys" in mounted) == sealing, name_of(workload)


# ---- workloads ------------------------------------------------------------------------


def test_every_container_has_requests_and_limits(overlay: tuple[str, Objects]) -> None:
    _, objects = overlay
    for workload in of_kind(objects, *WORKLOADS):
        for container in containers(workload):
            resources = container.get("resources", {})
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(part, {})), (
                    f"{name_of(workload)}/{container['name']} lacks {part}"
                )


def test_every_pod_is_locked_down(overlay: tuple[str, Objects]) -> None:
    _, objects = overlay
    for workload in of_kind(objects, *WORKLOADS):
        spec = pod_spec(workload)
        pod_sc = spec.get("securityContext", {})
        assert spec.get("automountServiceAccountToken") is False, name_of(workload)
        for container in containers(workload):
            sc = container.get("securityContext", {})
            where = f"{name_of(workload)}/{container['name']}"
            assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, where
            assert sc.get("runAsUser", pod_sc.get("runAsUser", 0)) != 0, where
            assert sc.get("readOnlyRootFilesystem") is True, where
            assert sc.get("allowPrivilegeEscalation") is False, where
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], where
            assert not sc.get("capabilities", {}).get("add"), where
            assert not sc.get("privileged"), where


def test_images_are_pinned(overlay: tuple[str, Objects]) -> None:
    _, objects = overlay
    for workload in of_kind(objects, *WORKLOADS):
        for container in containers(workload):
            image = container["image"]
            assert PINNED_TAG.match(image), f"{name_of(workload)}: image {image!r} is not pinned"
            assert not image.endswith(":latest")
            assert container.get("imagePullPolicy", "IfNotPresent") != "Always"


def test_long_running_workloads_have_distinct_readiness_and_liveness(
    overlay: tuple[str, Objects],
) -> None:
    _, objects = overlay
    for workload in of_kind(objects, "Deployment", "StatefulSet"):
        for container in pod_spec(workload)["containers"]:
            readiness, liveness = container.get("readinessProbe"), container.get("livenessProbe")
            assert readiness and liveness, f"{name_of(workload)} needs both probes"
            strip = ("periodSeconds", "timeoutSeconds", "failureThreshold", "initialDelaySeconds")
            assert {k: v for k, v in readiness.items() if k not in strip} != {
                k: v for k, v in liveness.items() if k not in strip
            }, f"{name_of(workload)}: readiness and liveness probe the same thing"


def test_apis_probe_readyz_for_readiness_and_healthz_for_liveness(
    overlay: tuple[str, Objects],
) -> None:
    _, objects = overlay
    apis = [
        d
        for d in of_kind(objects, "Deployment")
        if pod_labels(d).get("app.kubernetes.io/component") == "api"
    ]
    assert {pod_labels(d)["app.kubernetes.io/name"] for d in apis} == {*SERVICES, "gateway"}
    for api in apis:
        (container,) = pod_spec(api)["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_workers_and_relays_use_a_heartbeat_not_celery_inspect(
    overlay: tuple[str, Objects],
) -> None:
    _, objects = overlay
    for kind in ("worker", "relay"):
        deployments = [
            d
            for d in of_kind(objects, "Deployment")
            if pod_labels(d).get("app.kubernetes.io/component") == kind
        ]
        assert len(deployments) == len(SERVICES)
        for deployment in deployments:
            (container,) = pod_spec(deployment)["containers"]
            assert container["args"] == [kind]
            command = container["livenessProbe"]["exec"]["command"]
            assert command[:3] == ["python", "/usr/local/bin/uskalla-healthcheck", kind]
            assert "--max-age" in command
            assert "inspect" not in " ".join(command)
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            assert "/tmp" in mounts, "the heartbeat file lives in a writable /tmp"


def test_selectors_match_their_pod_templates(overlay: tuple[str, Objects]) -> None:
    _, objects = overlay
    for workload in of_kind(objects, "Deployment", "StatefulSet"):
        assert selects(workload["spec"]["selector"], pod_labels(workload)), name_of(workload)


def test_every_service_selects_pods_and_named_ports(overlay: tuple[str, Objects]) -> None:
    _, objects = overlay
    templates = of_kind(objects, "Deployment", "StatefulSet")
    for service in of_kind(objects, "Service"):
        backing = [w for w in templates if selects(service["spec"]["selector"], pod_labels(w))]
        assert backing, f"Service {name_of(service)} has no endpoints"
        ports = {
            p["name"]
            for w in backing
            for c in pod_spec(w)["containers"]
            for p in c.get("ports", [])
        }
        for port in service["spec"]["ports"]:
            target = port.get("targetPort")
            if isinstance(target, str):
                assert target in ports, f"Service {name_of(service)}: no container port {target}"


def test_every_deployment_has_a_pod_disruption_budget(overlay: tuple[str, Objects]) -> None:
    _, objects = overlay
    budgets = of_kind(objects, "PodDisruptionBudget")
    for deployment in of_kind(objects, "Deployment"):
        assert any(selects(b["spec"]["selector"], pod_labels(deployment)) for b in budgets), (
            f"Deployment {name_of(deployment)} has no PodDisruptionBudget"
        )


def test_apis_autoscale_on_cpu_and_workers_on_queue_length(overlay: tuple[str, Objects]) -> None:
    _, objects = overlay
    hpa_targets = {
        h["spec"]["scaleTargetRef"]["name"] for h in of_kind(objects, "HorizontalPodAutoscaler")
    }
    assert hpa_targets == {*(f"{s}-api" for s in SERVICES), "gateway"}
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in of_kind(objects, "ScaledObject")}
    assert set(scaled) == {f"{s}-worker" for s in SERVICES}
    for service in SERVICES:
        triggers = scaled[f"{service}-worker"]["spec"]["triggers"]
        assert all(t["type"] == "redis" for t in triggers)
        assert {t["metadata"]["listName"] for t in triggers} == QUEUES[service]
        worker = next(
            d for d in of_kind(objects, "Deployment") if name_of(d) == f"{service}-worker"
        )
        assert "replicas" not in worker["spec"], "KEDA owns the worker's replica count"


def test_each_service_has_a_migration_job(overlay: tuple[str, Objects]) -> None:
    _, objects = overlay
    jobs = {name_of(j): j for j in of_kind(objects, "Job")}
    for service in SERVICES:
        (container,) = pod_spec(jobs[f"{service}-migrate"])["containers"]
        assert container["args"] == ["migrate"]
        assert container["image"].startswith(f"uskalla/{service}:")


def test_gateway_is_the_only_ingress_backend(overlay: tuple[str, Objects]) -> None:
    _, objects = overlay
    (ingress,) = of_kind(objects, "Ingress")
    backends = {
        path["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert backends == {"gateway"}
    for service in of_kind(objects, "Service"):
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", name_of(service)


# ---- network policies -----------------------------------------------------------------


def policies_for(objects: Objects, labels: dict[str, str], direction: str) -> list[dict[str, Any]]:
    return [
        p
        for p in of_kind(objects, "NetworkPolicy")
        if direction in p["spec"].get("policyTypes", [])
        and selects(p["spec"]["podSelector"], labels)
    ]


def test_ingress_is_denied_by_default_and_only_the_gateway_is_open_to_the_ingress_controller(
    overlay: tuple[str, Objects],
) -> None:
    _, objects = overlay
    assert any(
        p["spec"]["podSelector"] == {} and "ingress" not in p["spec"]
        for p in policies_for(objects, {}, "Ingress")
    ), "no default-deny ingress policy"
    for workload in of_kind(objects, "Deployment", "StatefulSet"):
        labels = pod_labels(workload)
        for policy in policies_for(objects, labels, "Ingress"):
            for rule in policy["spec"].get("ingress", []):
                for peer in rule.get("from", []):
                    ns = peer.get("namespaceSelector", {}).get("matchLabels", {})
                    if ns.get("kubernetes.io/metadata.name") == "ingress-nginx":
                        assert labels["app.kubernetes.io/name"] == "gateway", name_of(policy)
                    assert "ipBlock" not in peer, f"{name_of(policy)} opens a pod to addresses"


def test_in_cluster_databases_accept_only_their_own_service(overlay: tuple[str, Objects]) -> None:
    _, objects = overlay
    databases = [
        s
        for s in of_kind(objects, "StatefulSet")
        if pod_labels(s).get("app.kubernetes.io/component") == "database"
    ]
    for database in databases:
        owner = name_of(database).removesuffix("-postgres")
        assert owner in SERVICES
        policies = policies_for(objects, pod_labels(database), "Ingress")
        assert policies, f"no NetworkPolicy covers {name_of(database)}"
        for policy in policies:
            for rule in policy["spec"].get("ingress", []):
                for peer in rule["from"]:
                    assert set(peer) == {"podSelector"}, name_of(policy)
                    for service in SERVICES:
                        allowed = selects(peer["podSelector"], {"app.kubernetes.io/name": service})
                        assert allowed == (service == owner), (name_of(policy), service)


def test_external_databases_are_reached_only_by_their_own_service(
    overlay: tuple[str, Objects],
) -> None:
    name, objects = overlay
    if of_kind(objects, "StatefulSet"):
        pytest.skip(f"{name} runs its databases in the cluster (ingress policies cover them)")
    assert any(
        p["spec"]["podSelector"] == {} and "egress" not in p["spec"]
        for p in policies_for(objects, {}, "Egress")
    ), "no default-deny egress policy"
    ranges: dict[str, set[ipaddress.IPv4Network]] = {}
    for service in SERVICES:
        for component in ("api", "worker", "relay", "migrate"):
            labels = {"app.kubernetes.io/name": service, "app.kubernetes.io/component": component}
            for policy in policies_for(objects, labels, "Egress"):
                for rule in policy["spec"].get("egress", []):
                    if any(p.get("port") == 5432 for p in rule.get("ports", [])):
                        ranges.setdefault(service, set()).update(
                            ipaddress.ip_network(peer["ipBlock"]["cidr"]) for peer in rule["to"]
                        )
    assert set(ranges) == set(SERVICES), "every service needs egress to its own database"
    for a in SERVICES:
        for b in SERVICES:
            if a < b:
                assert not any(x.overlaps(y) for x in ranges[a] for y in ranges[b]), (a, b)
