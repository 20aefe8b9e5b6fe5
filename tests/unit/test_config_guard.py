"""Hardening settings (issue 15): fault injection never starts in production; proxy and slow-down settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reportsvc.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("env_name", ["production", "Production", "prod"])
def test_fault_injection_in_production_is_refused_naming_both_variables(env_name):
    with pytest.raises(ConfigError) as refused:
        load_settings({"REPORTSVC_FAULT_INJECTION": "1", "REPORTSVC_ENV": env_name})
    assert "REPORTSVC_FAULT_INJECTION" in str(refused.value) and "REPORTSVC_ENV" in str(refused.value)


def test_fault_injection_elsewhere_and_production_without_it_start():
    assert load_settings({"REPORTSVC_FAULT_INJECTION": "1", "REPORTSVC_ENV": "staging"}).fault_injection
    assert not load_settings({"REPORTSVC_ENV": "production"}).fault_injection


def test_the_app_refuses_to_start_with_fault_injection_in_production():
    result = subprocess.run([sys.executable, "-c", "import app"], cwd=ROOT, capture_output=True, text=True,
                            env={"REPORTSVC_FAULT_INJECTION": "1", "REPORTSVC_ENV": "production",
                                 "PATH": "/usr/bin:/bin"}, timeout=60)
    assert result.returncode != 0
    assert "REPORTSVC_FAULT_INJECTION=1 is refused with REPORTSVC_ENV=production" in result.stderr
    assert "Traceback" not in result.stderr


def test_guard_settings_are_read_and_bounded():
    s = load_settings({"TRUSTED_PROXY_COUNT": "2", "LOGIN_SLOWDOWN_THRESHOLD": "10", "LOGIN_SLOWDOWN_SECONDS": "0.5"})
    g = s.guard
    assert (g.trusted_proxy_count, g.login_slowdown_threshold, g.login_slowdown_seconds) == (2, 10, 0.5)
    with pytest.raises(ConfigError, match="TRUSTED_PROXY_COUNT"):
        load_settings({"TRUSTED_PROXY_COUNT": "-1"})
