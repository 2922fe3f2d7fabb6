"""A rich progress bar for copies: items, items/s and ETA (indeterminate when the total is unknown)."""

from __future__ import annotations

from types import TracebackType

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

__all__ = ["RichCopyProgress"]


class _RateColumn(ProgressColumn):
    """Items per second over rich's sliding window."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- items/s" if speed is None else f"{speed:,.0f} items/s", style="progress.data.speed")


class RichCopyProgress:
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

    def __enter__(self) -> RichCopyProgress:
        self.progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.progress.stop()

    def start(self, total: int | None, done: int) -> None:
        """Show the bar: ``total=None`` makes it indeterminate."""
        self.task = self.progress.add_task(self.description, total=total, completed=done)

    def advance(self, items: int) -> None:
        """Move the bar (thread-safe: rich locks its task table)."""
        if self.task is not None:
            self.progress.advance(self.task, items)
