"""Fixtures for the deployment checks: rendered overlays, the compose file, a Docker engine."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from uskalla_devstack.servers import docker_available

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())
ENGINE_SOCKET = "/run/container-engine/docker.sock"


def render(overlay: str) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: cannot render the kustomize overlays")
    out = subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert out.returncode == 0, f"kubectl kustomize {overlay} failed:\n{out.stderr}"
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


_RENDERED: dict[str, list[dict[str, Any]]] = {}


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    """(name, objects) for each overlay, rendered once per session."""
    name = request.param
    if name not in _RENDERED:
        _RENDERED[name] = render(name)
    return name, _RENDERED[name]


@pytest.fixture
def prod() -> list[dict[str, Any]]:
    """The prod overlay's objects (its edge and monitoring are prod's own)."""
    if "prod" not in _RENDERED:
        _RENDERED["prod"] = render("prod")
    return _RENDERED["prod"]


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def engine_answers() -> bool:
    """Point docker clients at the container-engine socket if nothing else is set; ping it."""
    if not os.environ.get("DOCKER_HOST") and Path(ENGINE_SOCKET).exists():
        os.environ["DOCKER_HOST"] = f"unix://{ENGINE_SOCKET}"
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
    return docker_available()


@pytest.fixture(scope="session")
def docker_engine() -> None:
    if not engine_answers():
        pytest.skip(
            "no Docker engine answers (start one: /work/shared/tools/container-engine up; "
            'eval "$(/work/shared/tools/container-engine env)")'
        )
