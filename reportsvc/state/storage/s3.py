"""The S3 backend: report files as objects in one bucket under a prefix (AWS S3, MinIO, SeaweedFS, R2).

boto3 is the client; credentials come from the standard AWS chain (environment, profile, instance role).
A PUT is atomic (an object is never half visible), so no temp-and-rename dance is needed. Every failure
of the store surfaces as StorageUnavailable, a missing object as StorageMissing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from reportsvc.config.storage import StorageSettings
from reportsvc.state.storage.base import (
    CHUNK_SIZE,
    StorageError,
    StorageMissing,
    StorageUnavailable,
    StoredObject,
    timed,
)

_MISSING_CODES = {"404", "NoSuchKey", "NotFound"}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class S3Storage:
    """Objects `<S3_PREFIX><key>` in bucket S3_BUCKET."""

    name = "s3"

    def __init__(self, settings: StorageSettings, client: Any | None = None) -> None:
        self.settings = settings
        self.bucket = settings.s3_bucket
        self.prefix = settings.s3_prefix
        self.client = client or make_client(settings)

    def object_key(self, key: str) -> str:
        """The object's name in the bucket; refuses keys that could climb out of the prefix."""
        if not key or key.startswith("/") or "\x00" in key or ".." in key.split("/"):
            raise StorageError(f"unsafe storage key: {key!r}")
        return self.prefix + key

    def save(self, key: str, data: bytes) -> int:
        """One PUT: the object appears whole or not at all."""
        name = self.object_key(key)
        with timed(self.name, "put"), _unavailable("put", key):
            self.client.put_object(Bucket=self.bucket, Key=name, Body=data, ContentType="application/pdf")
        return len(data)

    def stream(self, key: str, chunk_size: int = CHUNK_SIZE) -> StoredObject:
        """GET the object and hand out its body chunk by chunk (never the whole file in memory)."""
        name = self.object_key(key)
        with timed(self.name, "get"), _unavailable("get", key):
            response = self.client.get_object(Bucket=self.bucket, Key=name)
        body = response["Body"]

        def chunks() -> Iterator[bytes]:
            try:
                yield from body.iter_chunks(chunk_size)
            finally:
                body.close()

        return StoredObject(int(response["ContentLength"]), chunks(), body.close)

    def delete(self, key: str) -> bool:
        """DELETE the object; S3 does not say whether it existed, so a HEAD asks first."""
        existed = self.exists(key)
        with timed(self.name, "delete"), _unavailable("delete", key):
            self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))
        return existed

    def exists(self, key: str) -> bool:
        """HEAD the object."""
        try:
            with timed(self.name, "head"), _unavailable("head", key):
                self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except StorageMissing:
            return False
        return True

    def presigned_url(self, key: str, seconds: int, filename: str) -> str | None:
        """A GET URL signed for `seconds`, answering with the download's file name."""
        return str(self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self.object_key(key),
                    "ResponseContentDisposition": f'attachment; filename="{filename}"',
                    "ResponseContentType": "application/pdf"},
            ExpiresIn=seconds,
        ))

    def listing(self) -> Iterator[tuple[str, datetime]]:
        """Every object under the prefix, 1000 per request."""
        paginator = self.client.get_paginator("list_objects_v2")
        with _unavailable("list", self.prefix):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for item in page.get("Contents", []):
                    yield item["Key"][len(self.prefix):], item["LastModified"]

    def check(self) -> None:
        """HEAD the bucket: it must exist and these credentials must reach it."""
        where = f"S3_BUCKET={self.bucket}" + (f" at S3_ENDPOINT_URL={self.settings.s3_endpoint_url}"
                                              if self.settings.s3_endpoint_url else "")
        try:
            with timed(self.name, "check"):
                self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = _code(exc)
            reason = {"404": "the bucket does not exist", "NoSuchBucket": "the bucket does not exist",
                      "403": "access denied (check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the role)",
                      "301": "the bucket is in another region (set S3_REGION)"}.get(code, f"error {code}")
            raise StorageUnavailable(f"{where}: {reason}") from None
        except BotoCoreError as exc:
            raise StorageUnavailable(f"{where}: {exc}") from None

    def local_path(self, key: str) -> Path | None:
        """Objects have no filesystem path."""
        return None


def make_client(settings: StorageSettings) -> Any:
    """A boto3 S3 client for these settings (its own session: boto3's default one is not thread-safe)."""
    config = Config(
        s3={"addressing_style": settings.s3_addressing},
        signature_version="s3v4",
        connect_timeout=settings.s3_connect_timeout_seconds,
        read_timeout=settings.s3_read_timeout_seconds,
        # One quick retry for a dropped connection; a store that is down fails the call within seconds.
        retries={"max_attempts": 2, "mode": "standard"},
        max_pool_connections=32,
    )
    region = settings.s3_region or ("us-east-1" if settings.s3_endpoint_url else None)
    return boto3.session.Session().client(
        "s3", endpoint_url=settings.s3_endpoint_url or None, region_name=region, config=config,
    )


class _unavailable:  # noqa: N801 - used as a `with` block, reads like one
    """Map botocore's errors: a missing object to StorageMissing, anything else to StorageUnavailable."""

    def __init__(self, operation: str, key: str) -> None:
        self.operation, self.key = operation, key

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, ClientError):
            code = _code(exc)
            if code in _MISSING_CODES:
                raise StorageMissing(f"no stored object for {self.key!r}") from None
            raise StorageUnavailable(f"object store {self.operation} failed: {code or exc}") from None
        if isinstance(exc, BotoCoreError):
            raise StorageUnavailable(f"object store {self.operation} failed: {exc}") from None
