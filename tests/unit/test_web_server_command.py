"""The Dockerfile and docker-compose.yml run the same web server, in the shape bench/api.py measures as the
deployment's (bench/_api_servers.DEPLOYED)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from bench import _api_servers

ROOT = Path(__file__).resolve().parents[2]


def _flag(cmd: list[str], name: str) -> str:
    return cmd[cmd.index(name) + 1]


def test_dockerfile_and_compose_serve_the_app_as_the_benchmarked_deployment() -> None:
    cmd_line = re.search(r"^CMD (\[.*\])$", (ROOT / "Dockerfile").read_text(), re.M)
    assert cmd_line is not None
    dockerfile = json.loads(cmd_line.group(1))
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]["command"]
    assert dockerfile == compose
    kind, workers, threads = _api_servers.parse(_api_servers.DEPLOYED)
    assert (dockerfile[0], _flag(dockerfile, "--interface"), dockerfile[-1]) == (kind, "wsgi", "app:app")
    assert (int(_flag(dockerfile, "--workers")), int(_flag(dockerfile, "--blocking-threads"))) == (workers, threads)
    assert (_flag(dockerfile, "--host"), _flag(dockerfile, "--port")) == ("0.0.0.0", "3000")
