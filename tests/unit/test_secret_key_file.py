"""The generated session key file: created 0600 from the start, refused when others can read it or it is short;
and in docker-compose.yml only the one-shot `migrate` service holds the admin password."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import yaml
from flask import Flask

from reportsvc.config import ConfigError
from reportsvc.web import auth

ROOT = Path(__file__).resolve().parents[2]


def _app(tmp_path: Path) -> Flask:
    return Flask("keytest", instance_path=str(tmp_path / "instance"))


def test_a_new_key_file_is_0600_from_its_creation_even_under_a_permissive_umask(tmp_path, monkeypatch):
    modes: list[int] = []
    real_link = os.link

    def watching_link(src, dst):  # type: ignore[no-untyped-def]
        modes.append(stat.S_IMODE(os.stat(src).st_mode))  # the file as it is when it becomes visible
        return real_link(src, dst)

    real_fdopen = os.fdopen

    def watching_fdopen(fd, *args, **kwargs):  # type: ignore[no-untyped-def]
        modes.append(stat.S_IMODE(os.fstat(fd).st_mode))  # the file before a byte of the key is written
        return real_fdopen(fd, *args, **kwargs)

    monkeypatch.setattr(os, "link", watching_link)
    monkeypatch.setattr(os, "fdopen", watching_fdopen)
    old = os.umask(0)
    try:
        app = _app(tmp_path)
        auth._ensure_secret_key(app)
    finally:
        os.umask(old)
    path = tmp_path / "instance" / "secret_key"
    assert modes == [0o600, 0o600]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert app.config["SECRET_KEY"] == path.read_text().strip() and len(app.config["SECRET_KEY"]) >= 32
    again = _app(tmp_path)
    auth._ensure_secret_key(again)
    assert again.config["SECRET_KEY"] == app.config["SECRET_KEY"]  # every process on the host shares it


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_key_file_others_can_read_is_refused(tmp_path, mode):
    path = tmp_path / "instance" / "secret_key"
    path.parent.mkdir()
    path.write_text("a" * 16 + "b" * 16 + "0123456789abcdef")
    path.chmod(mode)
    with pytest.raises(ConfigError, match="chmod 600"):
        auth._ensure_secret_key(_app(tmp_path))


def test_a_short_key_file_is_refused(tmp_path):
    path = tmp_path / "instance" / "secret_key"
    path.parent.mkdir()
    path.write_text("tooshort")
    path.chmod(0o600)
    with pytest.raises(ConfigError, match="at least 32"):
        auth._ensure_secret_key(_app(tmp_path))


def test_only_the_migrate_service_gets_the_admin_password():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    holders = {name for name, svc in compose["services"].items()
               if "REPORTSVC_ADMIN_PASSWORD" in (svc.get("environment") or {})}
    assert holders == {"migrate"}
    for name in ("web", "worker", "scheduler", "migrate"):
        assert "SECRET_KEY" in compose["services"][name]["environment"], name
