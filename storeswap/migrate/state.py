"""The checkpoint file of a copy: one entry per scan segment, rewritten atomically.

Layout (JSON)::

    {"version": 1, "table": "...", "target_table": "...", "total_segments": 4,
     "source": "<redacted url or kind>", "target": "...", "started": "...", "updated": "...",
     "segments": {"0": {"cursor": "...", "done": false, "count": 1500}, ...}}

A segment's entry moves forward only after the page it covers has been
written to the target (``bulk_put`` returned), and the file is replaced with
``os.replace`` after an ``fsync`` of a temporary file in the same directory,
so after a crash the file is either the old or the new version, never a torn
one.  What a crash can lose is the progress of pages written after the last
checkpoint; a resume writes those pages again, which changes nothing because
a put replaces the whole item under its key (last write wins): the target
ends with exactly one copy of each source item.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from attrs import define, field

from storeswap.core.errors import ConfigurationError

__all__ = ["SegmentState", "CopyState", "default_state_path"]

STATE_VERSION = 1


def default_state_path(table: str, target_table: str) -> Path:
    """``./.storeswap/migrate-<table>-to-<target>.json`` (the directory is created on first write)."""
    return Path(".storeswap") / f"migrate-{table}-to-{target_table}.json"


@define
class SegmentState:
    """Progress of one scan segment: where to resume, whether it is finished, items written."""

    cursor: str | None = None
    done: bool = False
    count: int = 0

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {"cursor": self.cursor, "done": self.done, "count": self.count}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@define
class CopyState:
    """All segments of one copy; ``path=None`` keeps it in memory only."""

    table: str
    target_table: str
    total_segments: int
    path: Path | None = None
    source: str = ""
    target: str = ""
    started: str = field(factory=_now)
    segments: dict[int, SegmentState] = field(factory=dict)
    _lock: threading.Lock = field(factory=threading.Lock, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        for s in range(self.total_segments):
            self.segments.setdefault(s, SegmentState())

    @property
    def done(self) -> bool:
        """True when every segment is finished."""
        return all(s.done for s in self.segments.values())

    @property
    def count(self) -> int:
        """Items written so far, over all segments."""
        return sum(s.count for s in self.segments.values())

    @property
    def resumed(self) -> bool:
        """True when some segment already made progress."""
        return any(s.done or s.cursor is not None or s.count for s in self.segments.values())

    def to_json(self) -> dict[str, Any]:
        """The JSON form written to the state file."""
        return {
            "version": STATE_VERSION,
            "table": self.table,
            "target_table": self.target_table,
            "total_segments": self.total_segments,
            "source": self.source,
            "target": self.target,
            "started": self.started,
            "updated": _now(),
            "segments": {str(k): v.to_json() for k, v in sorted(self.segments.items())},
        }

    def advance(self, segment: int, cursor: str | None, written: int) -> None:
        """Record that a page of ``written`` items was durably written; ``cursor=None`` ends the segment."""
        with self._lock:
            st = self.segments[segment]
            st.count += written
            st.cursor = cursor
            st.done = cursor is None
            self._save_locked()

    def save(self) -> None:
        """Write the file now (atomically)."""
        with self._lock:
            self._save_locked()

    def _save_locked(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(self.to_json(), indent=1, sort_keys=True).encode()
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        # Make the rename itself durable (POSIX); harmless where directories cannot be opened.
        try:
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dir_fd)
        except OSError:
            pass
        finally:
            os.close(dir_fd)

    @classmethod
    def load_or_new(
        cls, path: Path | None, *, table: str, target_table: str, total_segments: int, source: str, target: str
    ) -> CopyState:
        """Resume from ``path`` when it exists (it must describe the same copy), else start fresh."""
        if path is None or not path.exists():
            return cls(table, target_table, total_segments, path, source, target)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ConfigurationError(f"cannot read the state file {path}: {e}") from None
        if data.get("version") != STATE_VERSION:
            raise ConfigurationError(f"the state file {path} has an unknown version {data.get('version')!r}")
        if (data.get("table"), data.get("target_table")) != (table, target_table):
            raise ConfigurationError(
                f"the state file {path} belongs to copying {data.get('table')} to {data.get('target_table')}, "
                f"not {table} to {target_table}; use another --state"
            )
        if data.get("total_segments") != total_segments:
            raise ConfigurationError(
                f"the state file {path} was written with --segments {data.get('total_segments')}; "
                "resume with the same number (cursors belong to their segment)"
            )
        segments = {
            int(k): SegmentState(v.get("cursor"), bool(v.get("done")), int(v.get("count", 0)))
            for k, v in data.get("segments", {}).items()
        }
        return cls(
            table,
            target_table,
            total_segments,
            path,
            data.get("source", source),
            data.get("target", target),
            data.get("started", _now()),
            segments,
        )
