"""Cron of schedules (pure): parsing errors name the field, DST gaps and repeats, missed slots, words, titles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reportsvc.ops import cron


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_wrong_number_of_fields_names_cron_and_says_expected_5():
    with pytest.raises(cron.CronError) as caught:
        cron.parse("* * *", "UTC")
    assert caught.value.field == "cron"
    assert str(caught.value).startswith("expected 5 fields")


def test_out_of_range_value_names_cron():
    with pytest.raises(cron.CronError) as caught:
        cron.parse("61 * * * *", "UTC")
    assert caught.value.field == "cron" and "61" in str(caught.value)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../etc/passwd", "Europe/Paris\n"])
def test_unknown_time_zone_names_timezone(zone):
    with pytest.raises(cron.CronError) as caught:
        cron.parse("0 8 * * 1", zone)
    assert caught.value.field == "timezone"


def test_monday_0800_paris_is_0700_utc_in_winter_and_0600_in_summer():
    parsed = cron.parse("0 8 * * 1", "Europe/Paris")
    assert parsed.first_from(utc(2026, 12, 1)) == utc(2026, 12, 7, 7, 0)
    assert parsed.first_from(utc(2026, 6, 1)) == utc(2026, 6, 1, 6, 0)


def test_berlin_0230_on_the_spring_forward_night_fires_once_just_after_the_gap():
    # 2026-03-29 02:00 CET jumps to 03:00 CEST: 02:30 does not exist; CronTrigger fires at 01:30 UTC (03:30 local).
    runs = cron.parse("30 2 * * *", "Europe/Berlin").between(utc(2026, 3, 28, 12), utc(2026, 3, 30, 12))
    assert list(runs) == [utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)]


def test_berlin_0230_on_the_fall_back_night_fires_in_both_offsets():
    # 2026-10-25 03:00 CEST goes back to 02:00 CET: 02:30 happens twice, and CronTrigger fires for each.
    runs = cron.parse("30 2 * * *", "Europe/Berlin").between(utc(2026, 10, 24, 12), utc(2026, 10, 26, 12))
    assert list(runs) == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30), utc(2026, 10, 26, 1, 30)]


def test_upcoming_gives_the_next_five_strictly_after_now():
    parsed = cron.parse("*/15 * * * *", "UTC")
    assert parsed.upcoming(utc(2026, 1, 1, 10, 0), 5) == [utc(2026, 1, 1, 10, m) for m in (15, 30, 45)] + [
        utc(2026, 1, 1, 11, 0), utc(2026, 1, 1, 11, 15)]


def test_latest_due_after_a_six_hour_outage_is_the_most_recent_slot():
    parsed = cron.parse("* * * * *", "UTC")
    due = utc(2026, 1, 1, 0, 0)
    assert parsed.latest_due(due, due + timedelta(hours=6, seconds=20)) == utc(2026, 1, 1, 6, 0)


def test_latest_due_of_a_weekly_schedule_missed_weeks_ago():
    parsed = cron.parse("0 8 * * 1", "UTC")
    due = utc(2026, 1, 5, 8)  # a Monday
    assert parsed.latest_due(due, utc(2026, 3, 4, 12)) == utc(2026, 3, 2, 8)  # the last Monday before now


def test_latest_due_is_none_before_the_slot():
    parsed = cron.parse("0 8 * * *", "UTC")
    assert parsed.latest_due(utc(2026, 1, 2, 8), utc(2026, 1, 2, 7)) is None


@pytest.mark.parametrize(("expression", "words"), [
    ("0 8 * * 1", "every Monday at 08:00 (Europe/Paris)"),
    ("* * * * *", "every minute (Europe/Paris)"),
    ("*/5 * * * *", "every 5 minutes (Europe/Paris)"),
    ("30 * * * *", "every hour at :30 (Europe/Paris)"),
    ("0 7 * * *", "every day at 07:00 (Europe/Paris)"),
    ("0 7 * * 1-5", "every weekday (Monday to Friday) at 07:00 (Europe/Paris)"),
    ("15 6 1 * *", "on day 1 of every month at 06:15 (Europe/Paris)"),
    ("0 8 1 1 *", "cron 0 8 1 1 * (Europe/Paris)"),
])
def test_cron_in_words(expression, words):
    assert cron.describe(expression, "Europe/Paris") == words


def test_title_placeholders_are_filled_from_the_slot_in_the_schedules_zone():
    slot = utc(2026, 12, 31, 23, 30)  # already 2027-01-01 in Paris
    title = cron.fill_title("Ops {date} / {week} / {month} {other}", slot, "Europe/Paris")
    assert title == "Ops 2027-01-01 / 2026-W53 / 2027-01 {other}"


@pytest.mark.parametrize(("weekday_field", "first"), [
    ("0", utc(2026, 12, 6, 8)), ("7", utc(2026, 12, 6, 8)), ("sun", utc(2026, 12, 6, 8)),
    ("1", utc(2026, 12, 7, 8)), ("1-5", utc(2026, 12, 7, 8)), ("6", utc(2026, 12, 12, 8)),
])
def test_weekdays_use_cron_numbering_sunday_is_0_and_7(weekday_field, first):
    # 2026-12-05 is a Saturday (after 08:00 here): the next Sunday is the 6th, the next Monday the 7th.
    assert cron.parse(f"0 8 * * {weekday_field}", "UTC").first_from(utc(2026, 12, 5, 9)) == first
