"""Cron expressions of schedules: parse and validate, next runs, missed slots, and the cron in words.

Pure (no Flask, no database). Fire times come from APScheduler's `CronTrigger` in the schedule's IANA
zone, so DST gaps and repeats behave the way `CronTrigger` does: a 02:30 slot on the spring-forward night
fires at 03:30 local (the first instant after the gap), and on the fall-back night 02:30 happens twice,
once in summer time and once in winter time, and so does the slot.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from apscheduler.triggers.cron import CronTrigger

FIELD_NAMES = ("minute", "hour", "day of month", "month", "day of week")
MAX_CRON_LENGTH = 100
DAY_NAMES = {"0": "Sunday", "1": "Monday", "2": "Tuesday", "3": "Wednesday", "4": "Thursday", "5": "Friday",
             "6": "Saturday", "7": "Sunday", "sun": "Sunday", "mon": "Monday", "tue": "Tuesday",
             "wed": "Wednesday", "thu": "Thursday", "fri": "Friday", "sat": "Saturday"}
#: How far back `latest_due` looks at first, widening only when a window holds no slot (a weekly schedule).
_WINDOWS = (timedelta(hours=1), timedelta(days=1), timedelta(days=32), timedelta(days=367))


class CronError(ValueError):
    """The cron expression or time zone cannot be used; `field` names the input (cron or timezone)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Cron:
    """A validated cron expression in an IANA time zone."""

    expression: str
    timezone: str
    trigger: CronTrigger

    def next_after(self, moment: datetime) -> datetime | None:
        """The first fire time strictly after `moment` (UTC), or None when there is none."""
        # In the trigger's own zone: from a UTC datetime, CronTrigger 3.x finds the first 02:30 of a fall-back
        # night again after the first one (00:30 UTC -> 00:30 UTC), never reaching the second.
        local = moment.astimezone(self.trigger.timezone)
        found = self.trigger.get_next_fire_time(local, local)
        for step in (timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1)):
            if found is None or found.astimezone(UTC) > moment:
                break
            found = self.trigger.get_next_fire_time(None, local + step)  # always move forward, never loop
        if found is None or found.astimezone(UTC) <= moment:
            return None
        return found.astimezone(UTC)

    def first_from(self, moment: datetime) -> datetime | None:
        """The first fire time at or after `moment` (UTC)."""
        found = self.trigger.get_next_fire_time(None, moment.astimezone(self.trigger.timezone))
        return found.astimezone(UTC) if found is not None else None

    def upcoming(self, moment: datetime, count: int = 5) -> list[datetime]:
        """The next `count` fire times strictly after `moment` (UTC)."""
        out: list[datetime] = []
        current = moment
        while len(out) < count:
            found = self.next_after(current)
            if found is None:
                break
            out.append(found)
            current = found
        return out

    def between(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """Fire times in [start, end], oldest first."""
        found = self.first_from(start)
        while found is not None and found <= end:
            yield found
            found = self.next_after(found)

    def latest_due(self, due: datetime, now: datetime) -> datetime | None:
        """The most recent fire time in [due, now] (the one `misfire=latest` makes), or None.

        Walks only a recent window first (an hour of every-minute slots is 60 steps), widening when the
        window holds no slot, so a long outage of a frequent schedule is not walked slot by slot.
        """
        for window in (*_WINDOWS, None):
            start = due if window is None else max(due, now - window)
            latest = None
            for latest in self.between(start, now):  # noqa: B007  (the loop keeps the last one)
                pass
            if latest is not None or start == due:
                return latest
        return None


def zone(name: str) -> ZoneInfo:
    """The IANA zone called `name`; CronError on field `timezone` for anything else."""
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        raise CronError("timezone", "expected an IANA time zone such as Europe/Paris or UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise CronError("timezone", f"unknown time zone {name!r}; expected an IANA name such as Europe/Paris") \
            from None


def parse(expression: str, timezone: str) -> Cron:
    """Validate a 5-field cron expression in `timezone`; CronError names the field that is wrong."""
    tz = zone(timezone)
    text = " ".join((expression or "").split())
    if len(text) > MAX_CRON_LENGTH:
        raise CronError("cron", f"at most {MAX_CRON_LENGTH} characters")
    fields = text.split(" ") if text else []
    if len(fields) != 5:
        raise CronError("cron", f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}")
    if any(ord(ch) < 32 for ch in text):
        raise CronError("cron", "must not contain control characters")
    try:
        minute, hour, day, month, weekdays = fields
        # Not from_crontab: APScheduler 3 numbers weekdays from Monday = 0, cron from Sunday = 0 (and 7).
        trigger = CronTrigger(minute=minute, hour=hour, day=day, month=month,
                              day_of_week=_weekdays(weekdays), timezone=tz)
    except (ValueError, KeyError, TypeError) as exc:
        raise CronError("cron", f"invalid cron expression: {exc}") from None
    return Cron(text, timezone, trigger)


_WEEKDAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _weekday(token: str) -> int:
    lowered = token.lower()
    if lowered in _WEEKDAY_NAMES:
        return _WEEKDAY_NAMES.index(lowered)
    if lowered.isdigit() and 0 <= int(lowered) <= 7:
        return int(lowered) % 7
    raise CronError("cron", f"day of week {token!r} is not 0-7 or sun-sat")


def _weekdays(field: str) -> str:
    """Cron's day-of-week field (0 or 7 = Sunday, ranges, lists, steps, names) as APScheduler day names."""
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()
    for item in field.split(","):
        base, _, step_text = item.partition("/")
        if step_text and not step_text.isdigit() or step_text == "0":
            raise CronError("cron", f"day-of-week step {step_text!r} must be a positive whole number")
        step = int(step_text) if step_text else 1
        if base == "*":
            low, high = 0, 6
        elif "-" in base:
            first, _, last = base.partition("-")
            low, high = _weekday(first), _weekday(last)
            high = 7 if last.strip() == "7" else high
            if high < low:
                raise CronError("cron", f"day-of-week range {base!r} runs backwards")
        else:
            low = high = _weekday(base)
            if step_text:
                high = 6
        days.update(day % 7 for day in range(low, high + 1, step))
    return ",".join(_WEEKDAY_NAMES[day] for day in sorted(days))


def common_zones() -> list[str]:
    """IANA zone names for the console's suggestions, sorted (UTC first)."""
    names = sorted(n for n in available_timezones() if "/" in n and not n.startswith(("Etc/", "SystemV/")))
    return ["UTC", *names]


def _hhmm(minute: str, hour: str) -> str | None:
    if minute.isdigit() and hour.isdigit():
        return f"{int(hour):02d}:{int(minute):02d}"
    return None


def _days(field: str) -> str | None:
    lowered = field.lower()
    if lowered in ("1-5", "mon-fri"):
        return "every weekday (Monday to Friday)"
    if lowered in ("0,6", "6,0", "sat,sun", "sun,sat", "6-7"):
        return "every Saturday and Sunday"
    parts = lowered.split(",")
    if all(p in DAY_NAMES for p in parts):
        names = [DAY_NAMES[p] for p in parts]
        return "every " + (names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1])
    return None


def describe(expression: str, timezone: str) -> str:
    """The cron in words, e.g. "every Monday at 08:00 (Europe/Paris)"; the expression itself when unusual."""
    fields = " ".join((expression or "").split()).split(" ")
    suffix = f" ({timezone})"
    if len(fields) != 5:
        return f"cron {expression}{suffix}"
    minute, hour, dom, month, dow = fields
    at = _hhmm(minute, hour)
    if dom == "*" and month == "*" and dow == "*":
        if minute == "*" and hour == "*":
            return "every minute" + suffix
        if minute.startswith("*/") and minute[2:].isdigit() and hour == "*":
            return f"every {int(minute[2:])} minutes" + suffix
        if minute.isdigit() and hour == "*":
            return f"every hour at :{int(minute):02d}" + suffix
        if minute.isdigit() and hour.startswith("*/") and hour[2:].isdigit():
            return f"every {int(hour[2:])} hours at :{int(minute):02d}" + suffix
        if at:
            return f"every day at {at}" + suffix
    if at and dom == "*" and month == "*":
        days = _days(dow)
        if days:
            return f"{days} at {at}" + suffix
    if at and dom.isdigit() and month == "*" and dow == "*":
        return f"on day {int(dom)} of every month at {at}" + suffix
    return f"cron {' '.join(fields)}{suffix}"


def fill_title(template: str | None, slot: datetime, timezone: str) -> str | None:
    """The title with `{date}`, `{week}` and `{month}` filled from the slot in the schedule's zone.

    Plain replacement of those three names only: any other brace is kept as typed, never interpreted.
    """
    if not template:
        return template
    local = slot.astimezone(zone(timezone))
    year, week, _ = local.isocalendar()
    filled = (template.replace("{date}", local.strftime("%Y-%m-%d"))
              .replace("{week}", f"{year}-W{week:02d}")
              .replace("{month}", local.strftime("%Y-%m")))
    return filled[:200]
