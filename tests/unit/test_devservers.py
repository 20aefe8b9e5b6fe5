"""Pure logic of the dev supervisor: what to embed, output prefixes, restart backoff."""

from __future__ import annotations

import io
import socket
import sys

import pytest

from reportsvc.dev.console import Console, format_line, prefix, use_color
from reportsvc.dev.engine_base import free_port, port_is_free
from reportsvc.dev.run import child_commands
from reportsvc.dev.settings import (
    app_host,
    app_port,
    config_error,
    db_configured,
    local_url,
    make_plan,
    public_url,
    redis_configured,
)
from reportsvc.dev.supervisor import Child, RestartPolicy, Supervisor


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, False),
        ({"DATABASE_URL": ""}, False),
        ({"DATABASE_URL": "  "}, False),
        ({"DATABASE_URL": "postgresql+psycopg://u@db/x"}, True),
        ({"DB_HOST": "db.internal"}, True),
        ({"DB_PORT": "5433"}, False),  # a port alone names no server
        ({"REDIS_URL": "redis://r:6379/0"}, False),
    ],
)
def test_db_configured(env: dict[str, str], expected: bool) -> None:
    assert db_configured(env) is expected


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, False),
        ({"REDIS_URL": ""}, False),
        ({"REDIS_URL": "redis://r:6379/0"}, True),
        ({"REDIS_HOST": "cache"}, True),
        ({"REDIS_SENTINELS": "s1:26379,s2:26379"}, True),
        ({"REDIS_DB": "2"}, False),
        ({"DATABASE_URL": "postgresql+psycopg://u@db/x"}, False),
    ],
)
def test_redis_configured(env: dict[str, str], expected: bool) -> None:
    assert redis_configured(env) is expected


def test_plan_embeds_both_when_nothing_is_configured() -> None:
    plan = make_plan({})
    assert plan.embedded_db and plan.embedded_redis
    assert plan.env_overrides == {
        "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:54329/reportsvc",
        "REDIS_URL": "redis://127.0.0.1:63799/0",
    }


def test_plan_embeds_only_what_is_missing() -> None:
    plan = make_plan({"DB_HOST": "db"})
    assert not plan.embedded_db and plan.embedded_redis
    assert set(plan.env_overrides) == {"REDIS_URL"}

    plan = make_plan({"REDIS_URL": "redis://cache:6379/1"})
    assert plan.embedded_db and not plan.embedded_redis
    assert set(plan.env_overrides) == {"DATABASE_URL"}

    plan = make_plan({"DATABASE_URL": "postgresql+psycopg://u@db/x", "REDIS_HOST": "cache"})
    assert not plan.embedded_db and not plan.embedded_redis
    assert plan.env_overrides == {}


def test_plan_uses_given_ports() -> None:
    plan = make_plan({}, pg_port=1111, redis_port=2222)
    assert plan.env_overrides["DATABASE_URL"].endswith("127.0.0.1:1111/reportsvc")
    assert plan.env_overrides["REDIS_URL"] == "redis://127.0.0.1:2222/0"


def test_app_port() -> None:
    assert app_port({}) == 3000
    assert app_port({"APP_PORT": ""}) == 3000
    assert app_port({"APP_PORT": "8080"}) == 8080


def test_prefixes_are_aligned() -> None:
    assert prefix("web") == "web      | "
    assert prefix("worker") == "worker   | "
    assert prefix("scheduler") == "scheduler| "
    assert len({len(prefix(n)) for n in ("web", "worker", "scheduler", "devrun", "migrate")}) == 1


def test_colored_prefix_keeps_text_and_resets() -> None:
    colored = prefix("worker", color=True)
    assert colored.startswith("\033[") and colored.endswith("\033[0m")
    assert "worker   | " in colored


def test_format_line_strips_newline() -> None:
    assert format_line("web", "GET /healthz 200\r\n") == "web      | GET /healthz 200"


def test_use_color() -> None:
    stream = io.StringIO()
    assert use_color(stream, {}) is False  # not a terminal
    assert use_color(stream, {"FORCE_COLOR": "1"}) is True
    assert use_color(stream, {"FORCE_COLOR": "1", "NO_COLOR": "1"}) is False


def test_backoff_doubles_up_to_the_cap_then_gives_up() -> None:
    policy = RestartPolicy(base_delay=1, max_delay=8, stable_after=30, max_rapid_failures=6)
    delays = [policy.on_exit(runtime=0.5) for _ in range(7)]
    assert delays == [1, 2, 4, 8, 8, 8, None]


def test_a_stable_run_resets_the_backoff() -> None:
    policy = RestartPolicy(base_delay=1, max_delay=30, stable_after=30, max_rapid_failures=3)
    assert [policy.on_exit(1), policy.on_exit(1), policy.on_exit(1)] == [1, 2, 4]
    assert policy.on_exit(45) == 1  # ran long enough: forgiven
    assert policy.on_exit(1) == 2


def test_child_commands() -> None:
    cmds = child_commands("/py", 3000)
    assert cmds["web"] == [
        "/py", "-m", "flask", "--app", "app", "run", "--host", "127.0.0.1", "--port", "3000",
        "--no-reload", "--with-threads",
    ]  # fmt: skip
    assert child_commands("/py", 3000, host="0.0.0.0")["web"][5:8] == ["run", "--host", "0.0.0.0"]
    assert cmds["worker"] == ["/py", "-m", "dramatiq", "reportsvc.tasks", "--processes", "1", "--threads", "8"]
    assert cmds["scheduler"] == ["/py", "-m", "flask", "--app", "app", "scheduler"]
    assert "scheduler" not in child_commands("/py", 3000, with_scheduler=False)


def test_app_host_defaults_to_this_machine_only() -> None:
    assert app_host({}) == "127.0.0.1"
    assert app_host({"APP_HOST": " "}) == "127.0.0.1"
    assert app_host({"APP_HOST": "0.0.0.0"}) == "0.0.0.0"


@pytest.mark.parametrize(("host", "health", "public"), [
    ("127.0.0.1", "http://127.0.0.1:3000/healthz", "http://localhost:3000/console/"),
    ("0.0.0.0", "http://127.0.0.1:3000/healthz", "http://localhost:3000/console/"),
    ("::", "http://[::1]:3000/healthz", "http://localhost:3000/console/"),
    ("192.168.1.20", "http://192.168.1.20:3000/healthz", "http://192.168.1.20:3000/console/"),
])
def test_urls_follow_the_bound_host(host: str, health: str, public: str) -> None:
    assert local_url(host, 3000, "/healthz") == health
    assert public_url(host, 3000) == public


def test_config_error_is_found_before_anything_starts() -> None:
    assert config_error({}) is None
    problem = config_error({"SECRET_KEY": "change-me-in-production"})
    assert problem is not None and problem.startswith("SECRET_KEY looks like a placeholder")
    assert config_error({"APP_PORT": "x"}) == "APP_PORT='x' is not a whole number"


def test_free_port_is_free_until_taken() -> None:
    port = free_port()
    assert port_is_free(port)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        assert not port_is_free(port)


def _py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_supervisor_restarts_a_crashed_worker_and_stops_when_web_exits() -> None:
    out = io.StringIO()
    console = Console(out, color=False)
    web = Child("web", _py("import time; time.sleep(1.5); raise SystemExit(3)"), restart=False)
    worker = Child(
        "worker",
        _py("print('hello'); raise SystemExit(7)"),
        restart=True,
        policy=RestartPolicy(base_delay=0.2, max_delay=0.2, max_rapid_failures=50),
    )
    # Port 9 (discard) on localhost: nothing answers, so the "is up" line never prints.
    sup = Supervisor([web, worker], {}, console, "http://127.0.0.1:9/healthz", "http://localhost:9/")
    assert sup.run() == 1
    text = out.getvalue()
    assert "worker   | hello" in text
    assert "worker exited with code 7; restarting in 0.2 s" in text
    assert "web exited with code 3; stopping everything" in text
    assert "is up" not in text


def test_supervisor_gives_up_on_a_crash_loop() -> None:
    out = io.StringIO()
    worker = Child("worker", _py("raise SystemExit(1)"), restart=True,
                   policy=RestartPolicy(base_delay=0.01, max_delay=0.01, max_rapid_failures=2))  # fmt: skip
    web = Child("web", _py("import time; time.sleep(30)"), restart=False)
    sup = Supervisor([web, worker], {}, Console(out, color=False), "http://127.0.0.1:9/", "x")
    assert sup.run() == 1
    assert "crashed 3 times in a row, giving up" in out.getvalue()
    assert "stopping web" in out.getvalue()
    assert web.popen is not None and web.popen.poll() is not None


def test_make_run_starts_with_the_sample_datasets_and_keeps_an_edited_file(tmp_path) -> None:
    from reportsvc.dev.console import Console
    from reportsvc.dev.run import seed_datasets

    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "datasets.toml").write_text("# sample\n")
    env: dict = {}
    seed_datasets(tmp_path, env, Console())
    target = tmp_path / "instance" / "datasets.toml"
    assert target.read_text() == "# sample\n" and env["REPORT_DATASETS_FILE"] == str(target)
    target.write_text("# edited\n")
    seed_datasets(tmp_path, {}, Console())
    assert target.read_text() == "# edited\n"
    chosen = {"REPORT_DATASETS_FILE": "/elsewhere.toml"}
    seed_datasets(tmp_path, chosen, Console())
    assert chosen == {"REPORT_DATASETS_FILE": "/elsewhere.toml"}
