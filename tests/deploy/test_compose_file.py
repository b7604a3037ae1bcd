"""docker-compose.yml: valid for docker-compose v1.29 and the compose spec, and hardened."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
SERVICES = ("members", "experiments", "notifications")
Compose = dict[str, Any]

pytestmark = pytest.mark.deploy


def test_docker_compose_config_is_valid() -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip(
            "docker-compose (v1.29) is not on PATH; `/work/shared/tools/container-engine up` "
            "installs it"
        )
    out = subprocess.run(
        [binary, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr


def test_compose_file_matches_the_compose_spec_schema() -> None:
    checker = VENV_BIN / "check-jsonschema"
    if not checker.exists():
        pytest.skip("check-jsonschema is not installed in .venv")
    out = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(ROOT / "docker-compose.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_only_docker_compose_v1_features(compose: Compose) -> None:
    assert compose["version"] == "2.4"
    assert "include" not in compose
    for name, service in compose["services"].items():
        assert "develop" not in service, name
        for dependency in (service.get("depends_on") or {}).values():
            assert set(dependency) <= {"condition"}, name


def test_each_service_has_its_own_postgres(compose: Compose) -> None:
    services = compose["services"]
    for service in SERVICES:
        db = services[f"{service}-db"]
        assert db["image"] == "postgres:15"
        assert db["environment"]["POSTGRES_USER"] == service
        assert db["environment"]["POSTGRES_DB"] == service
        assert "ports" not in db, "databases are not published"
        url = services[service]["environment"][f"{service.upper()}_DATABASE_URL"]
        assert url.startswith(f"postgresql://{service}:") and url.endswith(
            f"@{service}-db:5432/{service}"
        )
        for other in SERVICES:
            if other != service:
                assert f"{other.upper()}_DATABASE_URL" not in services[service]["environment"]


def test_redis_persists_and_never_evicts(compose: Compose) -> None:
    redis = compose["services"]["redis"]
    assert redis["image"] == "redis:7"
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command
    assert any(v.endswith(":/data") for v in redis["volumes"])


def test_each_service_runs_migrate_api_worker_and_relay_in_order(compose: Compose) -> None:
    services = compose["services"]
    for service in SERVICES:
        assert services[f"{service}-migrate"]["command"] == ["migrate"]
        assert services[f"{service}-migrate"]["restart"] == "no"
        for process, command in (
            (service, "api"),
            (f"{service}-worker", "worker"),
            (f"{service}-relay", "relay"),
        ):
            assert services[process]["command"][0] == command
            depends = services[process]["depends_on"]
            assert depends[f"{service}-migrate"] == {"condition": "service_completed_successfully"}
            assert depends["redis"] == {"condition": "service_healthy"}
            assert "healthcheck" in services[process]
    gateway = services["gateway"]
    assert gateway["ports"] == ["${GATEWAY_PORT:-8080}:8080"]
    for service in SERVICES:
        assert gateway["depends_on"][service] == {"condition": "service_healthy"}


def test_only_the_edges_are_published_and_only_the_gateway_beyond_this_machine(
    compose: Compose,
) -> None:
    published = {name: s["ports"] for name, s in compose["services"].items() if s.get("ports")}
    # The web front door, the mail catcher, and the bounce receiver (what the MX forwards to).
    assert set(published) == {"gateway", "mailcatcher", "notifications-bounces"}
    for name, ports in published.items():
        if name != "gateway":
            assert all(str(p).startswith("127.0.0.1:") for p in ports), name


def test_application_containers_are_hardened(compose: Compose) -> None:
    for name, service in compose["services"].items():
        image = service.get("image", "")
        if not image.startswith("uskalla/"):
            continue
        assert service["read_only"] is True, name
        assert service["tmpfs"] == ["/tmp"], name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        if name != "keygen":
            assert "user" not in service, f"{name} must run as the image's non-root user"


def test_no_secret_is_committed(compose: Compose) -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert "BEGIN PRIVATE KEY" not in text
    for name, service in compose["services"].items():
        env = service.get("environment") or {}
        for key in ("JWT_PRIVATE_KEY", "JWT_PUBLIC_KEY", "INTERNAL_API_TOKEN"):
            assert key not in env, f"{name}: use {key}_FILE from the keygen volume"
        if str(service.get("image", "")).startswith("uskalla/") and name not in (
            "mailcatcher",
            "keygen",
        ):
            assert env["JWT_PUBLIC_KEY_FILE"].startswith("/run/uskalla/")
            assert env["INTERNAL_API_TOKEN_FILE"].startswith("/run/uskalla/")


def test_the_dockerfile_follows_the_image_rules() -> None:
    text = (ROOT / "deploy" / "docker" / "Dockerfile").read_text()
    lines = [line.strip() for line in text.splitlines()]
    assert not any(line.lower().startswith("# syntax") for line in lines)
    froms = [line for line in lines if line.startswith("FROM ")]
    assert froms and all(f.split()[1] == "python:3.11-slim" for f in froms)
    assert "uv.lock" in text and "--frozen" in text and "--require-hashes" in text
    final = text.rsplit("FROM ", 1)[1]
    assert "USER 10001:10001" in final
    assert "STOPSIGNAL SIGTERM" in final
    assert "HEALTHCHECK" in final
    assert "uv" not in final.replace("uskalla", ""), "no build tools in the final stage"
    installs = [
        line for line in lines if "uv pip install" in line or line.startswith("COPY packages/")
    ]
    assert not any("devstack" in line and "pyproject.toml" not in line for line in installs)


@pytest.mark.deploy
def test_every_image_is_built_from_the_one_dockerfile_with_its_own_package(
    compose: dict[str, Any],
) -> None:
    builds = {name: svc["build"] for name, svc in compose["services"].items() if "build" in svc}
    assert builds
    for name, build in builds.items():
        assert build["dockerfile"] == "deploy/docker/Dockerfile", name
        args = build["args"]
        assert args["PACKAGE"] and args["PROGRAM"], name
        assert "devstack" not in args["SOURCES"], name


def test_the_mail_catcher_is_reachable_from_this_machine_only(compose: Compose) -> None:
    # Captured mail holds working confirmation and sign-in links.
    for port in compose["services"]["mailcatcher"]["ports"]:
        assert str(port).startswith("127.0.0.1:"), port


def test_link_tokens_in_events_are_sealed_with_a_generated_key(compose: Compose) -> None:
    services = compose["services"]
    for name in ("members", "members-worker", "notifications", "notifications-worker"):
        assert services[name]["environment"]["EVENT_TOKEN_KEYS_FILE"].startswith(
            "/run/uskalla/shared/"
        ), name
    assert "event-token-keys" in " ".join(services["keygen"]["command"])
