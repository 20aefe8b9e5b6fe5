"""Reading STORAGE_BACKEND, S3_* and the download settings into a StorageSettings."""

from __future__ import annotations

from collections.abc import Mapping

from reportsvc.config.env import decimal, flag, whole
from reportsvc.config.settings import ConfigError
from reportsvc.config.storage import ADDRESSING_STYLES, BACKENDS, StorageSettings


def storage_settings(env: Mapping[str, str]) -> StorageSettings:
    """STORAGE_BACKEND, S3_* and the download settings; ConfigError names the bad variable."""
    backend = (env.get("STORAGE_BACKEND") or "local").strip().lower()
    if backend not in BACKENDS:
        raise ConfigError(f"STORAGE_BACKEND={backend!r} must be one of {', '.join(BACKENDS)}")
    bucket = (env.get("S3_BUCKET") or "").strip()
    if backend == "s3" and not bucket:
        raise ConfigError("STORAGE_BACKEND=s3 needs S3_BUCKET (the bucket that holds the report PDFs)")
    prefix = env.get("S3_PREFIX", "reports/")
    if prefix.startswith("/") or "\x00" in prefix:
        raise ConfigError(f"S3_PREFIX={prefix!r} must be a relative key prefix such as reports/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    endpoint = (env.get("S3_ENDPOINT_URL") or "").strip().rstrip("/")
    if endpoint and not endpoint.startswith(("http://", "https://")):
        raise ConfigError(f"S3_ENDPOINT_URL={endpoint!r} must start with http:// or https://")
    addressing = (env.get("S3_ADDRESSING") or "path").strip().lower()
    if addressing not in ADDRESSING_STYLES:
        raise ConfigError(f"S3_ADDRESSING={addressing!r} must be path or virtual")
    return StorageSettings(
        backend=backend,
        s3_bucket=bucket,
        s3_prefix=prefix,
        s3_endpoint_url=endpoint,
        s3_region=(env.get("S3_REGION") or "").strip(),
        s3_addressing=addressing,
        s3_connect_timeout_seconds=decimal(env, "S3_CONNECT_TIMEOUT_SECONDS", 3.0, 0.1, 300),
        s3_read_timeout_seconds=decimal(env, "S3_READ_TIMEOUT_SECONDS", 20.0, 0.1, 3600),
        presigned_downloads=flag(env, "STORAGE_PRESIGNED_DOWNLOADS", False),
        download_link_seconds=whole(env, "DOWNLOAD_LINK_SECONDS", 300, 1, 7 * 86400),
        orphan_grace_seconds=decimal(env, "STORAGE_ORPHAN_GRACE_SECONDS", 3600.0, 0, 30 * 86400),
        orphan_sweep_interval_seconds=decimal(env, "STORAGE_ORPHAN_SWEEP_SECONDS", 600.0, 1, 86400),
    )
