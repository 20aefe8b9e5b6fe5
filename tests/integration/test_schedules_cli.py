"""`flask --app app schedules list|create|pause|resume|run`: the API's rules from a shell, audited as `cli`."""

from __future__ import annotations


def invoke(app, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=["schedules", *args])


def test_create_list_pause_resume_and_run_from_the_cli(app, client):
    created = invoke(app, "create", "cli weekly", "--cron", "0 8 * * 1", "--timezone", "Europe/Paris",
                     "--recipient", "a@example.com", "--recipient", "b@example.com", "--title", "Ops {week}")
    assert created.exit_code == 0, created.output
    assert "every Monday at 08:00 (Europe/Paris)" in created.output
    listed = invoke(app, "list")
    assert "cli weekly  [active]" in listed.output
    assert invoke(app, "pause", "cli weekly").output.strip() == "paused cli weekly"
    assert "[PAUSED" in invoke(app, "list").output
    assert invoke(app, "resume", "cli weekly").output.startswith("resumed cli weekly: next run 20")
    ran = invoke(app, "run", "cli weekly")
    assert ran.exit_code == 0 and ran.output.startswith("queued report ")
    report_id = ran.output.split()[2]
    report = client.get(f"/reports/{report_id}").get_json()
    assert report["schedule_name"] == "cli weekly" and report["notify_emails"] == ["a@example.com", "b@example.com"]
    actions = {(e["action"], e["actor"]) for e in client.get("/audit").get_json()["items"]}
    assert {("schedule.create", "cli"), ("schedule.pause", "cli"), ("schedule.resume", "cli"),
            ("schedule.run", "cli")} <= actions


def test_cli_refuses_what_the_api_refuses_naming_the_field(app, client):
    bad = invoke(app, "create", "broken", "--cron", "* * *")
    assert bad.exit_code != 0 and "cron: expected 5 fields" in bad.output
    zone = invoke(app, "create", "broken", "--cron", "* * * * *", "--timezone", "Mars/Base")
    assert zone.exit_code != 0 and "timezone:" in zone.output
    assert client.get("/schedules").get_json()["items"] == []
    assert invoke(app, "run", "nobody").exit_code != 0
