"""Kubernetes manifests: every overlay renders, validates offline and follows our policies."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
WORKLOADS = ("Deployment", "StatefulSet", "Job", "CronJob")
PINNED_TAG = re.compile(r"^[^:@]+(:\d+\.\d+(\.\d+)?([.-][\w.]+)?|@sha256:[0-9a-f]{64})$")
Objects = list[dict[str, Any]]
#: Where the edge's proxies run: ingress-nginx (dev's Ingress), the Gateway API implementation (prod).
EDGE_NAMESPACES = {"ingress-nginx", "gateway-system"}

pytestmark = pytest.mark.deploy


def of_kind(objects: Objects, *kinds: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] in kinds]


def name_of(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["name"])


def template(workload: dict[str, Any]) -> dict[str, Any]:
    spec = workload["spec"]
    return (
        spec["jobTemplate"]["spec"]["template"]
        if workload["kind"] == "CronJob"
        else spec["template"]
    )


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return template(workload)["spec"]


def pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    return template(workload)["metadata"].get("labels", {})


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


def run_check(deploy: Path, versions: str | None = None) -> subprocess.CompletedProcess[str]:
    """deploy/check.sh without its policy step (these tests are that step)."""
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    env = {
        **os.environ,
        "PYTHON": str(ROOT / ".venv" / "bin" / "python"),
        "KUBERNETES_VALIDATE": str(ROOT / ".venv" / "bin" / "kubernetes-validate"),
        "CHECK_POLICIES": "0",
    }
    if versions:
        env["K8S_VERSIONS"] = versions
    return subprocess.run(
        [str(deploy / "check.sh")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )


def test_check_script_validates_every_overlay() -> None:
    out = run_check(ROOT / "deploy")
    assert out.returncode == 0, out.stdout + out.stderr
    for overlay in (p.name for p in (K8S / "overlays").iterdir()):
        assert f"ok   {overlay} (Kubernetes" in out.stdout
    assert "prod: " in out.stdout and " 4 custom resources checked against vendored" in out.stdout


@pytest.mark.parametrize(
    ("path", "old", "new", "reported"),
    [
        ("k8s/base/gateway.yaml", "containerPort: 8080", 'containerPort: "http"', "containerPort"),
        # Custom resources, against their vendored CRD schemas: a wrong type, an unknown field.
        (
            "k8s/overlays/prod/httproute.yaml",
            "port: 8080",
            "port: 80800",
            "rules/0/backendRefs/0/port",
        ),
        ("k8s/overlays/prod/httproute.yaml", "sectionName: https", "section: https", "'section'"),
        ("k8s/components/monitoring/alerts.yaml", "for: 10m", "for: ten minutes", "rules/0/for"),
        ("k8s/components/monitoring/monitors.yaml", "interval: 30s", "intervall: 30s", "intervall"),
    ],
)
def test_check_script_fails_on_a_broken_manifest(
    tmp_path: Path, path: str, old: str, new: str, reported: str
) -> None:
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    broken = tmp_path / "deploy" / path
    assert old in broken.read_text()
    broken.write_text(broken.read_text().replace(old, new, 1))
    out = run_check(tmp_path / "deploy", "1.33.0")
    assert out.returncode != 0
    assert reported in out.stdout, out.stdout


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
            sources = volume.get("projected", {}).get("sources", [])
            secrets = [s["secret"] for s in sources if "secret" in s]
            if "secret" in volume:
                secrets.append({"name": volume["secret"]["secretName"], **volume["secret"]})
            for secret in secrets:
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
        if pod_labels(workload).get("app.kubernetes.io/component") == "backup":
            continue  # pg_dump reads only its database's URL
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


def metrics_ports(objects: Objects) -> set[int | str]:
    """Every container port that serves metrics (named `metrics`), by name and by number."""
    return {
        value
        for workload in of_kind(objects, "Deployment")
        for container in pod_spec(workload)["containers"]
        for port in container.get("ports", [])
        if port["name"] == "metrics"
        for value in (port["name"], port["containerPort"])
    }


def test_the_gateway_is_the_only_edge_backend_and_no_metrics_port_is_routed(
    overlay: tuple[str, Objects],
) -> None:
    name, objects = overlay
    ingresses, routes = of_kind(objects, "Ingress"), of_kind(objects, "HTTPRoute")
    # One edge per overlay: dev keeps the Ingress, prod has Gateway API routes instead.
    assert (len(ingresses), bool(routes)) == ((0, True) if name == "prod" else (1, False))
    services = {name_of(s): s for s in of_kind(objects, "Service")}
    backends = [
        (p["backend"]["service"]["name"], p["backend"]["service"]["port"].get("name"))
        for i in ingresses
        for rule in i["spec"]["rules"]
        for p in rule["http"]["paths"]
    ] + [
        (ref["name"], ref["port"])
        for route in routes
        for rule in route["spec"]["rules"]
        for ref in rule.get("backendRefs", [])
    ]
    assert backends and {b for b, _ in backends} == {"gateway"}
    hosts = {r["host"] for i in ingresses for r in i["spec"]["rules"]}
    hosts |= {h for route in routes for h in route["spec"]["hostnames"]}
    assert hosts == {urlsplit(config_value(objects, "PUBLIC_BASE_URL")).hostname}, (
        "the edge serves the host the links in e-mails point at"
    )
    assert {port for _, port in backends} <= {"http", 8080}
    hidden = metrics_ports(objects)
    assert hidden, "no process exposes a metrics port"
    for service in services.values():
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", name_of(service)
        for port in service["spec"]["ports"]:
            assert port.get("targetPort") not in hidden and port["port"] not in hidden, (
                f"Service {name_of(service)} exposes a metrics port"
            )
    for route in routes:
        for rule in route["spec"]["rules"]:
            for ref in rule.get("backendRefs", []):
                if ref.get("group", "") == "" and ref.get("kind", "Service") == "Service":
                    assert "port" in ref, "the CRD's rule: a Service backendRef needs its port"


def test_prod_routes_attach_to_https_and_redirect_plain_http(prod: Objects) -> None:
    routes = {name_of(r): r for r in of_kind(prod, "HTTPRoute")}
    sections = {
        n: {p.get("sectionName") for p in r["spec"]["parentRefs"]} for n, r in routes.items()
    }
    assert sections == {"gateway": {"https"}, "gateway-https-redirect": {"http"}}
    (redirect,) = routes["gateway-https-redirect"]["spec"]["rules"]
    assert "backendRefs" not in redirect
    assert redirect["filters"] == [
        {"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}
    ]


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
                    if ns.get("kubernetes.io/metadata.name") in EDGE_NAMESPACES:
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


# ---- rollouts: schema before code, drain, spread ------------------------------------------


def service_deployments(objects: Objects) -> list[dict[str, Any]]:
    return [
        d
        for d in of_kind(objects, "Deployment")
        if pod_labels(d).get("app.kubernetes.io/name") in SERVICES
    ]


def test_every_service_pod_waits_for_its_schema_and_only_the_job_migrates(
    overlay: tuple[str, Objects],
) -> None:
    _, objects = overlay
    deployments = service_deployments(objects)
    assert len(deployments) >= 3 * len(SERVICES)
    for deployment in deployments:
        service = pod_labels(deployment)["app.kubernetes.io/name"]
        spec = pod_spec(deployment)
        (init,) = spec["initContainers"]
        (main,) = spec["containers"]
        assert init["args"][:2] == ["migrate", "--wait"], name_of(deployment)
        assert "--timeout" in init["args"]
        assert init["image"] == main["image"], "the revision to wait for is the image's own"
        assert settings_of(init).items() <= settings_of(main).items(), (
            f"{name_of(deployment)}: the same database, read the same way"
        )
        assert {m["mountPath"] for m in init["volumeMounts"]} == {
            m["mountPath"] for m in main["volumeMounts"]
        }
        assert f"{service.upper()}_DATABASE_URL_FILE" in settings_of(init)
    for job in of_kind(objects, "Job"):
        (container,) = pod_spec(job)["containers"]
        assert "--wait" not in container["args"]
        assert "initContainers" not in pod_spec(job)


def gunicorn_graceful_timeout() -> int:
    source = (ROOT / "packages/kit/src/uskalla_kit/processes.py").read_text()
    match = re.search(r'"graceful_timeout": (\d+)', source)
    assert match, "serve_api no longer sets graceful_timeout"
    return int(match.group(1))


def config_value(objects: Objects, key: str) -> str:
    (config,) = [c for c in of_kind(objects, "ConfigMap") if name_of(c) == "uskalla-config"]
    return str(config["data"][key])


def test_apis_drain_before_sigterm_within_their_grace_period(overlay: tuple[str, Objects]) -> None:
    _, objects = overlay
    graceful = gunicorn_graceful_timeout()
    apis = [
        d
        for d in of_kind(objects, "Deployment")
        if pod_labels(d).get("app.kubernetes.io/component") == "api"
    ]
    assert len(apis) == len(SERVICES) + 1
    for api in apis:
        (container,) = pod_spec(api)["containers"]
        drain = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert 3 <= drain <= 15, name_of(api)
        grace = pod_spec(api)["terminationGracePeriodSeconds"]
        assert grace >= drain + graceful, f"{name_of(api)}: SIGKILL before gunicorn has drained"
        assert grace <= drain + graceful + 30, f"{name_of(api)}: a stuck pod lingers"


def test_workers_get_their_warm_shutdown_and_relays_stop_within_a_beat(
    overlay: tuple[str, Objects],
) -> None:
    _, objects = overlay
    # A worker's warm shutdown finishes its running tasks: at most one SMTP exchange per mail,
    # and a list-mail chain whose lease ends is taken over by another worker anyway.
    longest = max(
        int(config_value(objects, "SMTP_TIMEOUT")), int(config_value(objects, "LIST_MAIL_LEASE"))
    )
    relay_beat = float(config_value(objects, "RELAY_INTERVAL"))
    for deployment in service_deployments(objects):
        component = pod_labels(deployment)["app.kubernetes.io/component"]
        grace = pod_spec(deployment)["terminationGracePeriodSeconds"]
        if component == "worker":
            assert grace >= longest, name_of(deployment)
        if component == "relay":
            assert grace >= 10 * relay_beat, name_of(deployment)


def test_every_deployment_spreads_its_own_pods_over_nodes(overlay: tuple[str, Objects]) -> None:
    _, objects = overlay
    for deployment in of_kind(objects, "Deployment"):
        constraints = pod_spec(deployment).get("topologySpreadConstraints", [])
        keys = {c["topologyKey"] for c in constraints}
        assert "kubernetes.io/hostname" in keys, name_of(deployment)
        for constraint in constraints:
            assert selects(constraint["labelSelector"], pod_labels(deployment)), name_of(deployment)
            assert constraint["whenUnsatisfiable"] in {"ScheduleAnyway", "DoNotSchedule"}
            others = [d for d in of_kind(objects, "Deployment") if d is not deployment]
            assert not any(selects(constraint["labelSelector"], pod_labels(o)) for o in others), (
                f"{name_of(deployment)} spreads against another Deployment's pods"
            )


# ---- secrets as files -----------------------------------------------------------------


USKALLA_IMAGES = {f"uskalla/{s}" for s in (*SERVICES, "gateway")}
EVERYONE_READS = ("REDIS_URL_FILE", "JWT_PUBLIC_KEY_FILE", "INTERNAL_API_TOKEN_FILE")


def settings_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


def test_no_secret_reaches_a_pod_as_an_environment_variable(overlay: tuple[str, Objects]) -> None:
    _, objects = overlay
    for workload in of_kind(objects, *WORKLOADS):
        for container in containers(workload):
            where = f"{name_of(workload)}/{container['name']}"
            for env in container.get("env", []):
                assert "secretKeyRef" not in env.get("valueFrom", {}), where
                assert not re.search(r"PASSWORD$|_URL$|TOKEN$|SECRET$|KEYS?$", env["name"]), (
                    f"{where}: {env['name']} is given by value; mount it and set {env['name']}_FILE"
                )
            assert not any("secretRef" in e for e in container.get("envFrom", [])), where


def test_every_file_setting_names_a_mounted_file(overlay: tuple[str, Objects]) -> None:
    _, objects = overlay
    # The ConfigMap's files that every process of ours reads (the others only where used).
    shared_files = {k: config_value(objects, k) for k in EVERYONE_READS}
    for workload in of_kind(objects, *WORKLOADS):
        volumes = {v["name"]: v for v in pod_spec(workload).get("volumes", [])}
        for container in containers(workload):
            ours = container["image"].split(":")[0] in USKALLA_IMAGES
            settings = {**(shared_files if ours else {}), **settings_of(container)}
            files = {k: v for k, v in settings.items() if k.endswith("_FILE") and v}
            for key, path in files.items():
                mounts = [
                    m
                    for m in container.get("volumeMounts", [])
                    if path.startswith(m["mountPath"] + "/")
                ]
                assert mounts, (
                    f"{name_of(workload)}/{container['name']}: {key}={path} is not mounted"
                )
                (mount,) = mounts
                volume = volumes[mount["name"]]
                sources = volume.get("projected", {}).get("sources", [])
                items = [i for s in sources for i in s.get("secret", {}).get("items", [])]
                items += volume.get("secret", {}).get("items", [])
                relative = path.removeprefix(mount["mountPath"] + "/")
                assert relative in {i["path"] for i in items}, f"{name_of(workload)}: {key}={path}"


def test_urls_with_passwords_are_read_from_files(overlay: tuple[str, Objects]) -> None:
    _, objects = overlay
    assert config_value(objects, "REDIS_URL_FILE").startswith("/run/uskalla/secrets/")
    for deployment in service_deployments(objects):
        service = pod_labels(deployment)["app.kubernetes.io/name"]
        (container,) = pod_spec(deployment)["containers"]
        assert f"{service.upper()}_DATABASE_URL_FILE" in settings_of(container)
        if service == "notifications":
            assert {"SMTP_USERNAME_FILE", "SMTP_PASSWORD_FILE"} <= set(settings_of(container))


# ---- monitoring as code ---------------------------------------------------------------

#: Where the processes' metrics are made (uskalla_kit.health, .metrics, .processes, the
#: notifications relay's readers and bounce receiver); Prometheus' own `up` beside them.
EXPORTING = [
    "packages/kit/src/uskalla_kit/health.py",
    "packages/kit/src/uskalla_kit/metrics.py",
    "packages/kit/src/uskalla_kit/processes.py",
    "services/notifications/src/notifications/service_layer/metrics.py",
    "services/notifications/src/notifications/cli.py",
]
METRIC_DEFINITION = re.compile(
    r'\b(Counter|Histogram|Gauge|CounterMetricFamily|GaugeMetricFamily)\(\s*"(\w+)"'
)
REQUIRED_ALERTS = {
    "UskallaOutboxLag",
    "UskallaDeadLetters",
    "UskallaQueueBacklog",
    "UskallaHigh5xxRate",
    "UskallaHighBounceRate",
}
#: The process kinds that serve metrics: every long-running Deployment of the system.
PROCESSES = {"api", "worker", "relay", "bounces"}
COMPONENT = "app.kubernetes.io/component"


PROMQL = {"sum", "max", "min", "avg", "count", "rate", "increase", "irate", "absent"}
PROMQL |= {"histogram_quantile", "or", "and", "unless", "by", "without", "on", "ignoring", "bool"}


def metric_names(expr: str) -> set[str]:
    """The metrics a PromQL expression reads (label matchers, groupings and ranges removed)."""
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\b(by|without)\s*\([^)]*\)", " ", expr)
    words = set(re.findall(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*", bare))
    return {w.removesuffix("_bucket") for w in words - PROMQL}


def exported() -> set[str]:
    """The metric names the code defines, as Prometheus reads them (counters end `_total`)."""
    names = {"up"}
    for path in EXPORTING:
        for kind, name in METRIC_DEFINITION.findall((ROOT / path).read_text()):
            counter = kind.startswith("Counter") and not name.endswith("_total")
            names.add(f"{name}_total" if counter else name)
    return names


def test_the_exporting_code_defines_the_named_metrics() -> None:
    assert {
        "http_requests_total",
        "http_request_duration_seconds",
        "uskalla_outbox_oldest_unpublished_age_seconds",
        "uskalla_dead_letters",
        "uskalla_deliveries_total",
        "uskalla_queue_length",
        "uskalla_newsletter_deliveries",
    } <= exported()


def service_processes(objects: Objects) -> list[dict[str, Any]]:
    return [d for d in of_kind(objects, "Deployment") if pod_labels(d).get(COMPONENT) in PROCESSES]


def test_every_process_exposes_its_metrics_port_and_one_pod_monitor_scrapes_them(
    overlay: tuple[str, Objects],
) -> None:
    name, objects = overlay
    processes = service_processes(objects)
    assert {pod_labels(d)[COMPONENT] for d in processes} == PROCESSES
    port = config_value(objects, "METRICS_PORT")
    for deployment in processes:
        (container,) = pod_spec(deployment)["containers"]
        ports = {p["name"]: str(p["containerPort"]) for p in container.get("ports", [])}
        assert ports.get("metrics") == port, f"{name_of(deployment)}: no metrics port {port}"
    if name != "prod":
        return
    assert not of_kind(objects, "ServiceMonitor"), "metrics go through no Service"
    (pod_monitor,) = of_kind(objects, "PodMonitor")
    scraped = [
        d
        for d in of_kind(objects, "Deployment")
        if selects(pod_monitor["spec"]["selector"], pod_labels(d))
    ]
    assert sorted(map(name_of, scraped)) == sorted(map(name_of, processes))
    (endpoint,) = pod_monitor["spec"]["podMetricsEndpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("metrics", "/metrics")


def test_only_the_monitoring_namespace_reaches_a_metrics_port(overlay: tuple[str, Objects]) -> None:
    _, objects = overlay
    port = int(config_value(objects, "METRICS_PORT"))
    monitoring = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    }
    for deployment in service_processes(objects):
        rules = [
            rule
            for policy in policies_for(objects, pod_labels(deployment), "Ingress")
            for rule in policy["spec"].get("ingress", [])
        ]
        opening = [
            rule
            for rule in rules
            if any(p.get("port") in (port, "metrics") for p in rule.get("ports", []))
        ]
        assert opening, f"{name_of(deployment)}: Prometheus cannot scrape it"
        for rule in opening:
            assert rule.get("from") == [monitoring], f"{name_of(deployment)}: {rule}"
        for rule in rules:  # a rule without ports opens every port, the metrics port too
            assert rule.get("ports"), f"{name_of(deployment)}: a rule opens every port"


def test_alerts_cover_the_issue_and_read_only_exported_metrics(prod: Objects) -> None:
    (rule,) = of_kind(prod, "PrometheusRule")
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r}
    assert set(alerts) >= REQUIRED_ALERTS
    names = exported()
    for name, alert in alerts.items():
        assert metric_names(alert["expr"]), name
        assert metric_names(alert["expr"]) <= names, (name, metric_names(alert["expr"]) - names)
        assert "NOT EXPORTED" not in alert["annotations"]["metric_status"], name
        assert alert["labels"]["severity"] in {"critical", "warning", "info"}


def test_the_dashboard_charts_the_alerted_metrics(prod: Objects) -> None:
    (config,) = [c for c in of_kind(prod, "ConfigMap") if "uskalla.json" in c.get("data", {})]
    assert config["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(config["data"]["uskalla.json"])
    charted = {
        m for p in dashboard["panels"] for t in p["targets"] for m in metric_names(t["expr"])
    }
    (rule,) = of_kind(prod, "PrometheusRule")
    alerted = {
        m for g in rule["spec"]["groups"] for r in g["rules"] for m in metric_names(r["expr"])
    }
    assert alerted - {"up"} <= charted
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


# ---- backups ----------------------------------------------------------------------------


def test_dev_dumps_every_database_nightly_with_its_own_postgres_client(
    overlay: tuple[str, Objects],
) -> None:
    name, objects = overlay
    cronjobs = {name_of(c): c for c in of_kind(objects, "CronJob")}
    if name == "prod":
        assert cronjobs == {}, "prod relies on the provider's backups (docs/operations.md)"
        return
    assert set(cronjobs) == {f"{s}-backup" for s in SERVICES}
    for service in SERVICES:
        cronjob = cronjobs[f"{service}-backup"]
        assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
        (container,) = pod_spec(cronjob)["containers"]
        assert re.match(r"^postgres:15(\.\d+)?$", container["image"])
        script = " ".join(container["args"])
        assert "pg_dump" in script and "--format=custom" in script
        database = next(
            v
            for v in pod_spec(cronjob)["volumes"]
            if v.get("secret", {}).get("secretName") == f"{service}-database"
        )
        assert database["secret"]["items"] == [{"key": "url", "path": "url"}]
        claim = next(v for v in pod_spec(cronjob)["volumes"] if "persistentVolumeClaim" in v)
        assert claim["persistentVolumeClaim"]["claimName"] in {
            name_of(c) for c in of_kind(objects, "PersistentVolumeClaim")
        }
        assert policies_for(objects, pod_labels(cronjob), "Ingress")  # default-deny covers it
        (database_policy,) = [
            p
            for p in of_kind(objects, "NetworkPolicy")
            if name_of(p) == f"{service}-postgres-ingress"
        ]
        peers = [peer for rule in database_policy["spec"]["ingress"] for peer in rule["from"]]
        assert any(selects(peer["podSelector"], pod_labels(cronjob)) for peer in peers)


# ---- docs/operations.md tells what the manifests do ----------------------------------

OPERATIONS = ROOT / "docs" / "operations.md"
EN_DASH = "\u2013"  # the tables write ranges as 2\u20136


def replica_range(objects: Objects, workload: str) -> str:
    for hpa in of_kind(objects, "HorizontalPodAutoscaler"):
        if hpa["spec"]["scaleTargetRef"]["name"] == workload:
            return f"{hpa['spec']['minReplicas']}{EN_DASH}{hpa['spec']['maxReplicas']}"
    for scaled in of_kind(objects, "ScaledObject"):
        if scaled["spec"]["scaleTargetRef"]["name"] == workload:
            low, high = scaled["spec"]["minReplicaCount"], scaled["spec"]["maxReplicaCount"]
            return f"{low}{EN_DASH}{high}"
    (deployment,) = [d for d in of_kind(objects, "Deployment") if name_of(d) == workload]
    return str(deployment["spec"]["replicas"])


def test_the_replica_table_matches_the_manifests(overlay: tuple[str, Objects]) -> None:
    name, objects = overlay
    text = OPERATIONS.read_text()
    section = text[text.index("### Scale") :].split("\n\n")
    table = next(chunk for chunk in section if chunk.startswith("| workload"))
    rows = [r.strip("|").split("|") for r in table.splitlines()[2:]]
    column = {"dev": 1, "prod": 2}[name]
    documented = {
        workload.strip(): row[column].strip() for row in rows for workload in row[0].split(",")
    }
    deployments = {name_of(d) for d in of_kind(objects, "Deployment")} - {"mailcatcher"}
    assert set(documented) == deployments, "docs/operations.md's replica table (### Scale)"
    for workload, expected in documented.items():
        assert replica_range(objects, workload) == expected, (name, workload)


def test_the_probe_table_matches_the_heartbeat_limits(overlay: tuple[str, Objects]) -> None:
    _, objects = overlay
    text = OPERATIONS.read_text()
    said = {
        probe: int(age)
        for probe, age in re.findall(
            r"\*\*(readiness|liveness)\*\* \(heartbeat older than (\d+) s\)", text
        )
    }
    assert set(said) == {"readiness", "liveness"}
    for deployment in service_deployments(objects):
        if pod_labels(deployment)["app.kubernetes.io/component"] not in {"worker", "relay"}:
            continue
        (container,) = pod_spec(deployment)["containers"]
        for probe, age in said.items():
            command = container[f"{probe}Probe"].get("exec", {}).get("command")
            if command:
                assert int(command[command.index("--max-age") + 1]) == age, name_of(deployment)


def test_the_gitops_component_makes_each_sync_run_the_migrate_jobs_anew(tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    shutil.copytree(K8S, tmp_path / "k8s")
    overlay = tmp_path / "k8s" / "overlays" / "gitops"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources: [../prod]\ncomponents: [../../components/gitops]\n"
    )
    out = subprocess.run(
        [kubectl, "kustomize", str(overlay)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    objects = [d for d in yaml.safe_load_all(out.stdout) if d]
    annotated = {
        name_of(o): o["metadata"]["annotations"]
        for o in objects
        if o["metadata"].get("annotations", {}).get("argocd.argoproj.io/hook")
    }
    assert set(annotated) == {f"{s}-migrate" for s in SERVICES}
    for marks in annotated.values():
        assert marks["argocd.argoproj.io/hook"] == "Sync"  # not PreSync: see the component
        assert marks["argocd.argoproj.io/hook-delete-policy"] == "BeforeHookCreation"
        assert marks["kustomize.toolkit.fluxcd.io/force"] == "enabled"
