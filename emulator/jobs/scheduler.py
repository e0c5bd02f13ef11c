"""Cron schedules: SageMaker's `cron(...)` expressions, and the thread that fires them.

SageMaker's cron has six fields (minutes, hours, day of month, month, day of week, year),
day of week 1-7 from Sunday, and `?` for "any"; croniter takes the first five once the
days of week are shifted to its 0-6. Executions fire at their cron time on the emulator's
clock; a tick missed while the emulator was down is not replayed.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from croniter import croniter

from smlocal.emulator.errors import ValidationException
from smlocal.emulator.jobs.schedule_records import (
    MonitoringSchedule,
    find_schedule,
    save_schedule,
    stored_schedules,
)
from smlocal.emulator.support.state import State

log = logging.getLogger(__name__)
_CRON = re.compile(r"^cron\((.+)\)$", re.IGNORECASE)
_DAY_NUMBER = re.compile(r"\d+")

Fire = Callable[[MonitoringSchedule, datetime], object]
# A new or updated schedule is Pending, then Scheduled, as SageMaker reports it (the SDK
# waits for it to leave Pending after an update). How long AWS stays Pending is not
# published; a second (the default of SMLOCAL_SCHEDULE_PENDING_SECONDS, the settings'
# schedule_pending_seconds) is enough for a client to see it without slowing the SDK's waits.


def pending(schedule: MonitoringSchedule, now: float, seconds: float) -> None:
    """Mark a schedule Pending until `seconds` after `now`; a NOW schedule runs its
    execution once it is Scheduled (the next tick)."""
    schedule.move("Pending")
    schedule.settles_at = now + seconds
    if is_now(schedule.expression):
        schedule.now_due = True


def settle(ctx: State, schedule: MonitoringSchedule) -> MonitoringSchedule:
    """The schedule with Pending turned Scheduled once its time has come (stored too)."""
    if schedule.status != "Pending" or ctx.now() < (schedule.settles_at or 0):
        return schedule
    with ctx.store.transaction():
        current = find_schedule(ctx, schedule.name)
        if current is None or current.status != "Pending":
            return current or schedule
        current.move("Scheduled")
        current.settles_at = None
        save_schedule(ctx, current)
        return current


def is_now(expression: str) -> bool:
    """True for the one-off NOW schedule (any case, surrounding blanks allowed), not a cron."""
    return expression.strip().upper() == "NOW"


def to_croniter(expression: str) -> tuple[str, str]:
    """SageMaker's `cron(m h dom mon dow year)` as (croniter's five fields, the year field)."""
    found = _CRON.match(expression.strip())
    fields = found.group(1).split() if found else []
    if len(fields) not in (5, 6):
        raise ValidationException(
            f"Invalid ScheduleExpression {expression!r}: use NOW or cron(Minutes Hours "
            "Day-of-month Month Day-of-week Year), such as cron(0 * ? * * *) for every hour."
        )
    minutes, hours, dom, month, dow = fields[:5]
    year = fields[5] if len(fields) == 6 else "*"
    dow = _DAY_NUMBER.sub(lambda m: str((int(m.group()) - 1) % 7), dow)
    five = f"{minutes} {hours} {dom} {month} {dow}"
    if not croniter.is_valid(five) or not (year == "*" or re.fullmatch(r"[\d,\-]+", year)):
        raise ValidationException(f"Invalid ScheduleExpression {expression!r}.")
    return five, year


def _year_ok(year_field: str, moment: datetime) -> bool:
    if year_field == "*":
        return True
    for part in year_field.split(","):
        low, _, high = part.partition("-")
        if int(low) <= moment.year <= int(high or low):
            return True
    return False


def due(expression: str, after: datetime, now: datetime) -> datetime | None:
    """The latest cron time in (after, now], or None."""
    five, year = to_croniter(expression)
    times = croniter(five, after)
    latest = None
    for _ in range(10_000):
        moment = times.get_next(datetime)
        if moment > now:
            break
        if _year_ok(year, moment):
            latest = moment
    return latest


class Scheduler:
    """Fires due cron schedules once a second (on the context's clock)."""

    def __init__(self, ctx: State, fire: Fire, interval: float = 1.0) -> None:
        self.ctx = ctx
        self.fire = fire
        self.interval = interval
        self.stopped = threading.Event()
        self.started = self._now()
        self.thread = threading.Thread(target=self._loop, daemon=True, name="scheduler")

    def start(self) -> None:
        """Start ticking."""
        self.thread.start()

    def stop(self) -> None:
        """Stop ticking."""
        self.stopped.set()
        self.thread.join(5)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.ctx.clock(), UTC)

    def _loop(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                self.tick()
            except Exception:
                log.exception("scheduler tick failed")

    def tick(self) -> None:
        """Fire every Scheduled cron schedule whose time has come since its last tick."""
        now = self._now()
        for stored in stored_schedules(self.ctx):
            schedule = settle(self.ctx, stored)
            expression = schedule.expression
            if schedule.status != "Scheduled":
                continue
            if is_now(expression):
                self._run_now(schedule, now)
                continue
            last = schedule.last_tick
            after = max(
                datetime.fromtimestamp(last, UTC) if last else self.started,
                datetime.fromtimestamp(schedule.creation_time, UTC),
            )
            fired = due(expression, after, now)
            if fired is None:
                continue
            with self.ctx.store.transaction():
                current = find_schedule(self.ctx, schedule.name)
                if current is None:
                    continue
                current.last_tick = fired.timestamp()
                save_schedule(self.ctx, current)
            log.info("schedule %s fires for %s", schedule.name, fired)
            self.fire(current, fired)

    def _run_now(self, schedule: MonitoringSchedule, now: datetime) -> None:
        """The one execution of a NOW schedule that has become Scheduled."""
        if not schedule.now_due:
            return
        with self.ctx.store.transaction():
            current = find_schedule(self.ctx, schedule.name)
            if current is None or not current.now_due:
                return
            current.now_due = False
            save_schedule(self.ctx, current)
        log.info("NOW schedule %s runs its execution", current.name)
        self.fire(current, now)
