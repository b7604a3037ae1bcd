"""Production's Redis is reached over verified TLS by every pod and by KEDA, on one port."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from .test_k8s_manifests import K8S, WORKLOADS, Objects, config_value, name_of, of_kind, pod_spec

pytestmark = pytest.mark.deploy


def example_redis_secret() -> dict[str, str]:
    (secret,) = [
        s
        for s in yaml.safe_load_all((K8S / "secrets.example.yaml").read_text())
        if s and s["metadata"]["name"] == "uskalla-redis"
    ]
    return dict(secret["stringData"])


def mounted_files(workload: dict[str, Any], container: dict[str, Any]) -> set[str]:
    """The paths of the Secret items a container sees through its projected volumes."""
    volumes = {v["name"]: v for v in pod_spec(workload).get("volumes", [])}
    files = set()
    for mount in container.get("volumeMounts", []):
        for source in volumes[mount["name"]].get("projected", {}).get("sources", []):
            for item in source.get("secret", {}).get("items", []):
                files.add(f"{mount['mountPath']}/{item['path']}")
    return files


def test_every_prod_process_mounts_the_redis_ca_it_is_told_to_verify_with(prod: Objects) -> None:
    ca_file = config_value(prod, "REDIS_CA_FILE")
    workloads = of_kind(prod, *WORKLOADS)
    assert workloads
    for workload in workloads:
        spec = pod_spec(workload)
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            assert ca_file in mounted_files(workload, container), (
                f"{name_of(workload)}/{container['name']} reads no {ca_file}"
            )
    ca_items = [
        item
        for workload in workloads
        for volume in pod_spec(workload)["volumes"]
        for source in volume.get("projected", {}).get("sources", [])
        if source.get("secret", {}).get("name") == "uskalla-redis"
        for item in source["secret"]["items"]
        if item["path"] == ca_file.rsplit("/", 1)[1]
    ]
    assert {item["key"] for item in ca_items} == {"ca.crt"}
    assert "BEGIN CERTIFICATE" in example_redis_secret()["ca.crt"]


def test_the_url_keda_and_the_egress_policy_agree_on_the_tls_port(prod: Objects) -> None:
    secret = example_redis_secret()
    url = urlsplit(secret["url"])
    assert url.scheme == "rediss"
    assert secret["address"] == f"{url.hostname}:{url.port}"
    (egress,) = [p for p in of_kind(prod, "NetworkPolicy") if name_of(p) == "redis-egress"]
    ports = {port["port"] for rule in egress["spec"]["egress"] for port in rule["ports"]}
    assert ports == {url.port}


def test_keda_verifies_the_server_with_the_ca(prod: Objects) -> None:
    (auth,) = [o for o in of_kind(prod, "TriggerAuthentication") if name_of(o) == "uskalla-redis"]
    params = {ref["parameter"]: ref for ref in auth["spec"]["secretTargetRef"]}
    assert params["ca"]["key"] == "ca.crt" and params["tls"]["key"] == "tls"
    assert example_redis_secret()["tls"] == "enable"
    triggers = [t for o in of_kind(prod, "ScaledObject") for t in o["spec"]["triggers"]]
    assert {t["type"] for t in triggers} == {"redis"}
    for trigger in triggers:
        assert trigger["authenticationRef"]["name"] == "uskalla-redis"
        # KEDA takes the TriggerAuthentication's TLS only without these (which skip the CA).
        assert not {"enableTLS", "unsafeSsl"} & set(trigger["metadata"]), trigger
