"""The queue between the pages and the worker processes: Huey, on SQLite in the data folder by default, or on
Redis when `VEIL_QUEUE_URL` names one (several machines); the same calls serve both.

The jobs table (records.models.Job) holds the work and decides its order (fairly, see records.services.work);
the queue carries only wake-ups, with no record id, name or file in them. A wake-up lost with a killed worker
costs a moment, never a job: an idle worker also looks at the table now and then. Huey's crontab says when
housekeeping is due.
"""
from __future__ import annotations

import datetime as dt
import functools
from urllib.parse import urlsplit

from huey import RedisHuey, SqliteHuey, crontab

from records.config import ConfigError, Settings

WAKE = "veil_wake"
HOUSEKEEPING = "veil_housekeeping"
HOUSEKEEPING_DUE = crontab(minute="*/15")
REDIS_SCHEMES = ("redis", "rediss", "unix")


def _wake_up() -> None:
    """The body of a wake-up; a worker reads the name of what it received and looks at the jobs table."""


class Queue:
    """Opened on first use, so a command that never queues anything leaves no queue file behind."""

    def __init__(self, settings: Settings):
        if settings.queue_url and urlsplit(settings.queue_url).scheme not in REDIS_SCHEMES:
            raise ConfigError(f"VEIL_QUEUE_URL must be a Redis address (redis://host:port/db), not "
                              f"{settings.queue_url.split(':', 1)[0]!r}")
        self.settings = settings
        self.where = "redis" if settings.queue_url else "sqlite"

    @functools.cached_property
    def _opened(self) -> tuple:
        """The Huey instance and its wake-up task."""
        if self.settings.queue_url:
            huey = RedisHuey("veil", url=self.settings.queue_url, results=False, read_timeout=1)
        else:
            self.settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            huey = SqliteHuey("veil", filename=str(self.settings.queue_file), results=False, timeout=30)
        huey.periodic_task(HOUSEKEEPING_DUE, name=HOUSEKEEPING)(_wake_up)
        return huey, huey.task(name=WAKE)(_wake_up)

    @property
    def huey(self):
        return self._opened[0]

    def wake(self, count: int = 1) -> None:
        """Tell idle workers there is work: one wake-up per job, so that many workers start at once."""
        wake_up = self._opened[1]
        for _ in range(count):
            wake_up()

    def receive(self) -> str | None:
        """The next message's name (WAKE), or None when there is none; on Redis it waits up to a second."""
        task = self.huey.dequeue()
        return type(task).__name__ if task is not None else None

    @property
    def waits(self) -> bool:
        """Whether `receive` waits for a message itself (Redis), or returns at once (SQLite)."""
        return bool(getattr(self.huey.storage, "blocking", False))

    def due(self, when: dt.datetime) -> list[str]:
        """The periodic tasks due in this minute (UTC)."""
        minute = when.astimezone(dt.timezone.utc).replace(tzinfo=None, second=0, microsecond=0)
        return [type(task).__name__ for task in self.huey.read_periodic(minute)]

    def pending(self) -> int:
        return self.huey.pending_count()
