"""STORAGE_BACKEND and S3_* settings, `make run`'s embedded S3 plan, and the compose file's shared-nothing shape."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from reportsvc.config import ConfigError, load_settings
from reportsvc.dev.settings import DEV_S3_PORT, make_plan
from reportsvc.state.storage import report_key, report_of_key

ROOT = Path(__file__).resolve().parents[2]


def test_local_is_the_default_backend() -> None:
    assert load_settings({}).storage.backend == "local"


def test_s3_settings_are_read_and_the_prefix_gets_its_slash() -> None:
    storage = load_settings({"STORAGE_BACKEND": "S3", "S3_BUCKET": "b", "S3_PREFIX": "pdfs",
                             "S3_ENDPOINT_URL": "http://minio:9000/", "S3_ADDRESSING": "virtual",
                             "STORAGE_PRESIGNED_DOWNLOADS": "1", "DOWNLOAD_LINK_SECONDS": "60"}).storage
    assert (storage.backend, storage.s3_bucket, storage.s3_prefix, storage.s3_endpoint_url) == (
        "s3", "b", "pdfs/", "http://minio:9000")
    assert storage.s3_addressing == "virtual" and storage.presigned_downloads and storage.download_link_seconds == 60


@pytest.mark.parametrize(("env", "named"), [
    ({"STORAGE_BACKEND": "ftp"}, "STORAGE_BACKEND"),
    ({"STORAGE_BACKEND": "s3"}, "S3_BUCKET"),
    ({"STORAGE_BACKEND": "s3", "S3_BUCKET": "b", "S3_ADDRESSING": "dns"}, "S3_ADDRESSING"),
    ({"STORAGE_BACKEND": "s3", "S3_BUCKET": "b", "S3_ENDPOINT_URL": "minio:9000"}, "S3_ENDPOINT_URL"),
    ({"STORAGE_BACKEND": "s3", "S3_BUCKET": "b", "S3_PREFIX": "/abs"}, "S3_PREFIX"),
    ({"DOWNLOAD_LINK_SECONDS": "0"}, "DOWNLOAD_LINK_SECONDS"),
])
def test_bad_storage_settings_are_refused_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_settings(env)


def test_report_keys_name_the_run_and_lead_back_to_the_report() -> None:
    rid, run = "6f1c2a9e-0d8b-4c55-9a51-3f0e8e8a1b2c", "0b7e4f0a-8a47-4f0c-bd55-7c9d6f0a0e11"
    assert report_key(rid, run) == f"{rid}/{run}.pdf"
    assert str(report_of_key(report_key(rid, run))) == rid
    assert str(report_of_key(f"{rid}.pdf")) == rid  # the key rows had before runs named their files
    assert report_of_key("notes/readme.txt") is None


def test_make_run_embeds_s3_only_for_s3_without_an_endpoint() -> None:
    assert not make_plan({}).embedded_s3
    assert not make_plan({"STORAGE_BACKEND": "s3", "S3_ENDPOINT_URL": "http://minio:9000"}).embedded_s3
    plan = make_plan({"STORAGE_BACKEND": "s3"})
    assert plan.embedded_s3
    assert plan.env_overrides["S3_ENDPOINT_URL"] == f"http://127.0.0.1:{DEV_S3_PORT}"
    assert plan.env_overrides["S3_BUCKET"] == "reportsvc"
    load_settings({**plan.env_overrides, "STORAGE_BACKEND": "s3"})  # what the children get is valid


def test_compose_shares_no_reports_volume_and_runs_two_workers_on_s3() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert "reports" not in (compose.get("volumes") or {})
    for name in ("web", "worker", "worker-batch", "scheduler", "migrate"):
        assert not services[name].get("volumes"), f"{name} mounts a volume"
        assert services[name]["environment"]["STORAGE_BACKEND"] == "s3"
        assert services[name]["environment"]["S3_ENDPOINT_URL"] == "http://s3:8333"
    assert services["worker"]["deploy"]["replicas"] == 2
    assert services["s3"]["entrypoint"][:2] == ["weed", "mini"]
