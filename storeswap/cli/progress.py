"""Rich progress displays: the copy bar (items, items/s, ETA) and the follower line (records, records/s, lag)."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from storeswap.migrate.status import lag_text

__all__ = ["RichCopyProgress", "RichFollowProgress"]


class _Display:
    """A rich display shown while its ``with`` block runs (``self.progress`` is set by the subclass)."""

    progress: Progress

    def __enter__(self) -> Self:
        self.progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.progress.stop()


class _RateColumn(ProgressColumn):
    """Items per second over rich's sliding window."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- items/s" if speed is None else f"{speed:,.0f} items/s", style="progress.data.speed")


class RichCopyProgress(_Display):
    """Implements :class:`storeswap.migrate.copy.CopyProgress` with a rich bar on stderr."""

    def __init__(self, description: str, *, console: Console | None = None, disable: bool = False) -> None:
        self.console = console or Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _RateColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TimeElapsedColumn(),
            console=self.console,
            disable=disable,
            transient=False,
            speed_estimate_period=10.0,
        )
        self.description = description
        self.task: TaskID | None = None

    def start(self, total: int | None, done: int) -> None:
        """Show the bar: ``total=None`` makes it indeterminate."""
        self.task = self.progress.add_task(self.description, total=total, completed=done)

    def advance(self, items: int) -> None:
        """Move the bar (thread-safe: rich locks its task table)."""
        if self.task is not None:
            self.progress.advance(self.task, items)


class _RecordRateColumn(ProgressColumn):
    """Records per second over rich's sliding window."""

    def render(self, task: Task) -> Text:
        speed = task.speed
        return Text("-- records/s" if speed is None else f"{speed:,.0f} records/s", style="progress.data.speed")


class RichFollowProgress(_Display):
    """The follower's live line on stderr: records replayed, records/s, lag per shard and in seconds, caught up.

    ``advance`` is ``follow_changes``'s ``progress`` callback, ``status`` its ``on_status``.
    """

    def __init__(self, description: str, *, console: Console | None = None, disable: bool = False) -> None:
        self.console = console or Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            TextColumn("{task.completed:,.0f} records replayed"),
            _RecordRateColumn(),
            TextColumn("{task.fields[lag]}"),
            TextColumn("{task.fields[state]}"),
            TimeElapsedColumn(),
            console=self.console,
            disable=disable,
            transient=False,
            speed_estimate_period=10.0,
        )
        self.task = self.progress.add_task(f"following {description}", total=None, lag="lag ?", state="starting")

    def advance(self, records: int) -> None:
        """Records applied and checkpointed."""
        self.progress.advance(self.task, records)

    def status(self, status: dict[str, Any]) -> None:
        """A status as written to the checkpoint."""
        state = "caught up" if status.get("caught_up") else "replaying"
        self.progress.update(self.task, lag=lag_text(status), state=state)
