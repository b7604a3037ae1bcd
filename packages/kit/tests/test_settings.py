"""Settings: every value may come from NAME or from the file NAME_FILE names (a mounted Secret)."""

from __future__ import annotations

from pathlib import Path

import pytest
from uskalla_kit.runtime import CommonSettings
from uskalla_kit.settings import SettingError, env, env_secret


def test_urls_with_passwords_come_from_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "database-url"
    database.write_text("postgresql://members:s3cret@db:5432/members\n")  # as Secrets end
    redis = tmp_path / "redis-url"
    redis.write_text("redis://:pw@redis:6379/0")
    monkeypatch.setenv("USKALLA_ENV", "production")
    monkeypatch.delenv("MEMBERS_DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("MEMBERS_DATABASE_URL_FILE", str(database))
    monkeypatch.setenv("REDIS_URL_FILE", str(redis))
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://uskalla.test")
    monkeypatch.setenv("JWT_PUBLIC_KEY", "pem")
    monkeypatch.setenv("INTERNAL_API_TOKEN", "token")

    settings = CommonSettings.from_env("members", "MEMBERS_DATABASE_URL")

    assert settings.database_url == "postgresql+psycopg://members:s3cret@db:5432/members"
    assert settings.redis_url == "redis://:pw@redis:6379/0"


def test_the_variable_wins_over_the_file_and_secrets_keep_their_inner_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "key.pem"
    key.write_text("-----BEGIN KEY-----\nabc\\n\n-----END KEY-----\n")
    monkeypatch.setenv("SOME_KEY_FILE", str(key))
    monkeypatch.delenv("SOME_KEY", raising=False)
    # A file's content is taken as it is (a backslash-n in it is not a line break).
    assert env_secret("SOME_KEY") == "-----BEGIN KEY-----\nabc\\n\n-----END KEY-----"
    monkeypatch.setenv("SOME_KEY", "one\\ntwo")
    assert env_secret("SOME_KEY") == "one\ntwo"
    assert env("SOME_KEY") == "one\\ntwo"


def test_a_missing_file_or_setting_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USKALLA_ENV", "production")
    monkeypatch.delenv("SMTP_USERNAME", raising=False)
    monkeypatch.setenv("SMTP_USERNAME_FILE", str(tmp_path / "absent"))
    with pytest.raises(SettingError, match=r"SMTP_USERNAME_FILE: cannot read .*absent"):
        env("SMTP_USERNAME", "")
    monkeypatch.delenv("SMTP_USERNAME_FILE")
    assert env("SMTP_USERNAME", "") == ""
    with pytest.raises(SettingError, match=r"REDIS_URL_X \(or REDIS_URL_X_FILE\) must be set"):
        env("REDIS_URL_X", dev_default="redis://")
    empty = tmp_path / "empty"
    empty.write_text("\n")
    monkeypatch.setenv("SMTP_PASSWORD_FILE", str(empty))
    monkeypatch.delenv("SMTP_PASSWORD", raising=False)
    assert env_secret("SMTP_PASSWORD", required=False) is None
