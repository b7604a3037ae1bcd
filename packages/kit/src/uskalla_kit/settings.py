"""Settings from the environment; development defaults only in dev mode, and loudly.

Every setting NAME may instead be given as NAME_FILE, the path of a file holding the value
(a mounted Kubernetes Secret): URLs with passwords (`*_DATABASE_URL`, `REDIS_URL`), SMTP
credentials and keys all come the same way. NAME wins when both are set.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


class SettingError(RuntimeError):
    pass


def dev_mode() -> bool:
    return os.environ.get("USKALLA_ENV", "production").lower() in {"dev", "development", "test"}


def given(name: str) -> str | None:
    """NAME's value, else the content of the file NAME_FILE names (without the line break that
    ends most files), else None."""
    value = os.environ.get(name)
    if value:
        return value
    path = os.environ.get(f"{name}_FILE")
    if not path:
        return None
    try:
        return Path(path).read_text().rstrip("\r\n") or None
    except OSError as exc:
        raise SettingError(f"{name}_FILE: cannot read {path}: {exc.strerror}") from exc


def env(name: str, default: str | None = None, *, dev_default: str | None = None) -> str:
    """A setting: the environment's value (or NAME_FILE's), else `default`, else (dev mode
    only) `dev_default`."""
    value = given(name)
    if value is not None:
        return value
    if default is not None:
        return default
    if dev_default is not None and dev_mode():
        log.warning("DEV DEFAULT in use for %s; never run like this in production", name)
        return dev_default
    raise SettingError(f"{name} (or {name}_FILE) must be set in the environment")


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def env_secret(name: str, *, required: bool = True, dev_default: str | None = None) -> str | None:
    """A secret given as NAME (the value; `\\n` stands for a line break, as in a PEM key on one
    line) or NAME_FILE (a path to it, e.g. a mounted Secret)."""
    value = given(name)
    if value is not None:
        return value.replace("\\n", "\n") if os.environ.get(name) else value
    if dev_default is not None and dev_mode():
        log.warning("DEV DEFAULT in use for secret %s; never run like this in production", name)
        return dev_default
    if required:
        raise SettingError(f"{name} or {name}_FILE must be set in the environment")
    return None


def database_url(name: str) -> str:
    """A SQLAlchemy URL using psycopg 3, whatever scheme the operator wrote."""
    url = env(name)
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
