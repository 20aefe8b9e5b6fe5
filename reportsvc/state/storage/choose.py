"""Which backend the settings choose, built once per process and settings (a boto3 client is costly)."""

from __future__ import annotations

import threading

from reportsvc.config import Settings, get_settings
from reportsvc.state.storage.base import Storage
from reportsvc.state.storage.local import LocalStorage

_cache: dict[object, Storage] = {}
_lock = threading.Lock()


def storage_for(settings: Settings) -> Storage:
    """The backend STORAGE_BACKEND names, shared by every thread of the process."""
    ident: object = settings.storage if settings.storage.is_s3 else settings.storage_dir
    found = _cache.get(ident)
    if found is not None:
        return found
    with _lock:
        found = _cache.get(ident)
        if found is None:
            if settings.storage.is_s3:
                from reportsvc.state.storage.s3 import S3Storage

                found = S3Storage(settings.storage)
            else:
                found = LocalStorage(settings.storage_dir)
            _cache[ident] = found
    return found


def get_storage() -> Storage:
    """The backend of the process's active settings."""
    return storage_for(get_settings())


def check_storage(settings: Settings) -> None:
    """Start-up check: raises StorageUnavailable with one line naming the setting and what failed."""
    storage_for(settings).check()
