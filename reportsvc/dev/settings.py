"""What `make run` derives from the environment: which engines to embed, ports, URLs, a settings check.

Pure functions of an environment mapping (plus `.env` loading), so they are tested without processes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# The repo root: `--app app` resolves app.py here and instance/ holds the embedded engines' data.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEV_PG_PORT = 54329
DEV_REDIS_PORT = 63799
#: S3 port of the embedded SeaweedFS (STORAGE_BACKEND=s3, no S3_ENDPOINT_URL); gRPC on 63833, the rest picked free.
DEV_S3_PORT = 53833
DEV_S3_BUCKET = "reportsvc"
DEV_DATABASE = "reportsvc"
DEFAULT_APP_PORT = 3000
#: A dev server (debuggable, with a generated admin password printed to the terminal) is for this machine
#: only; APP_HOST=0.0.0.0 opts in to serving the network.
DEFAULT_APP_HOST = "127.0.0.1"
#: Bind-all addresses: the supervisor reaches such a server through loopback.
_WILDCARD_HOSTS = {"0.0.0.0": "127.0.0.1", "::": "::1"}


def _set(env: Mapping[str, str], name: str) -> bool:
    return bool(env.get(name, "").strip())


def db_configured(env: Mapping[str, str]) -> bool:
    """True if the environment points at a PostgreSQL server (DATABASE_URL or DB_HOST)."""
    return _set(env, "DATABASE_URL") or _set(env, "DB_HOST")


def redis_configured(env: Mapping[str, str]) -> bool:
    """True if the environment points at a Redis server (REDIS_URL, REDIS_HOST) or at Sentinel (REDIS_SENTINELS)."""
    return _set(env, "REDIS_URL") or _set(env, "REDIS_HOST") or _set(env, "REDIS_SENTINELS")


@dataclass(frozen=True)
class DevPlan:
    """Which embedded engines to run and the variables the children get on top of the environment."""

    embedded_db: bool
    embedded_redis: bool
    env_overrides: dict[str, str] = field(default_factory=dict)
    #: STORAGE_BACKEND=s3 with no S3_ENDPOINT_URL: SeaweedFS runs under instance/seaweed.
    embedded_s3: bool = False


def make_plan(env: Mapping[str, str], pg_port: int = DEV_PG_PORT, redis_port: int = DEV_REDIS_PORT) -> DevPlan:
    """Decide which engines to embed: only what the environment does not configure."""
    embedded_db = not db_configured(env)
    embedded_redis = not redis_configured(env)
    overrides: dict[str, str] = {}
    if embedded_db:
        overrides["DATABASE_URL"] = f"postgresql+psycopg://postgres@127.0.0.1:{pg_port}/{DEV_DATABASE}"
    if embedded_redis:
        overrides["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    embedded_s3 = s3_embedded(env)
    if embedded_s3:
        from reportsvc.dev.seaweed import DEV_ACCESS_KEY, DEV_SECRET_KEY

        overrides.update({"S3_ENDPOINT_URL": f"http://127.0.0.1:{DEV_S3_PORT}", "S3_ADDRESSING": "path",
                          "S3_BUCKET": env.get("S3_BUCKET", "").strip() or DEV_S3_BUCKET,
                          "S3_REGION": env.get("S3_REGION", "").strip() or "us-east-1",
                          "AWS_ACCESS_KEY_ID": env.get("AWS_ACCESS_KEY_ID", "").strip() or DEV_ACCESS_KEY,
                          "AWS_SECRET_ACCESS_KEY": env.get("AWS_SECRET_ACCESS_KEY", "").strip() or DEV_SECRET_KEY})
    return DevPlan(embedded_db, embedded_redis, overrides, embedded_s3)


def s3_embedded(env: Mapping[str, str]) -> bool:
    """True when reports go to S3 (STORAGE_BACKEND=s3) but no S3_ENDPOINT_URL names a server: run one."""
    return env.get("STORAGE_BACKEND", "").strip().lower() == "s3" and not _set(env, "S3_ENDPOINT_URL")


def app_port(env: Mapping[str, str]) -> int:
    """Port of the web process: APP_PORT or 3000."""
    raw = env.get("APP_PORT", "").strip()
    return int(raw) if raw else DEFAULT_APP_PORT


def app_host(env: Mapping[str, str]) -> str:
    """Address the web process listens on: APP_HOST or 127.0.0.1."""
    return env.get("APP_HOST", "").strip() or DEFAULT_APP_HOST


def local_url(host: str, port: int, path: str = "/") -> str:
    """URL at which a server bound to host:port is reached from this machine (wildcards via loopback)."""
    target = _WILDCARD_HOSTS.get(host, host)
    if ":" in target:  # an IPv6 literal
        target = f"[{target}]"
    return f"http://{target}:{port}{path}"


def public_url(host: str, port: int) -> str:
    """The console URL to print: localhost when the server listens on loopback or everywhere."""
    if host in _WILDCARD_HOSTS or host in ("127.0.0.1", "::1", "localhost"):
        return f"http://localhost:{port}/console/"
    return local_url(host, port, "/console/")


def config_error(env: Mapping[str, str]) -> str | None:
    """What is wrong with the settings the children will load from `env`, or None if they are valid."""
    from reportsvc.config import ConfigError, load_settings

    try:
        load_settings(env)
    except ConfigError as exc:
        return str(exc)
    return None


def load_dotenv_file(path: Path) -> None:
    """Load `.env` into os.environ without overriding variables already set."""
    if not path.is_file():
        return
    from dotenv import load_dotenv

    load_dotenv(path, override=False)
