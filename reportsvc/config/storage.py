"""Where report PDFs live: the STORAGE_BACKEND / S3_* block of the settings (read by config.storage_env)."""

from __future__ import annotations

from dataclasses import dataclass

BACKENDS = ("local", "s3")
ADDRESSING_STYLES = ("path", "virtual")


@dataclass(frozen=True)
class StorageSettings:
    """The object-store half of the settings (the local backend only needs Settings.storage_dir)."""

    backend: str = "local"
    s3_bucket: str = ""
    s3_prefix: str = "reports/"
    #: Empty: AWS's own endpoint for S3_REGION.
    s3_endpoint_url: str = ""
    s3_region: str = ""
    #: "path" (MinIO, SeaweedFS, most self-hosted stores) or "virtual" (AWS, R2).
    s3_addressing: str = "path"
    #: How long one S3 call may wait for a connection / a reply before it counts as a failure.
    s3_connect_timeout_seconds: float = 3.0
    s3_read_timeout_seconds: float = 20.0
    #: Answer an allowed download with a 302 to a presigned URL instead of streaming through the web process.
    presigned_downloads: bool = False
    download_link_seconds: int = 300
    #: Objects under a report's prefix that its row does not name are deleted once older than this.
    orphan_grace_seconds: float = 3600.0
    orphan_sweep_interval_seconds: float = 600.0

    @property
    def is_s3(self) -> bool:
        """Whether reports are stored in an S3-compatible object store."""
        return self.backend == "s3"
