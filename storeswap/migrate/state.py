"""The checkpoint of a copy, bound to what it copies: one entry per scan segment, rewritten atomically.

Layout (JSON, version 2)::

    {"version": 2,
     "source": {"kind": "dynamodb", "endpoint": "DynamoStore('dynamodb://host:8000')", "table": "orders",
                "spec_fingerprint": "<sha256 of the source spec>"},
     "target": {"kind": "postgres", "endpoint": "...", "table": "orders"},
     "total_segments": 4, "batch": 500, "transform": null, "complete": false,
     "started": "...", "updated": "...",
     "segments": {"0": {"cursor": "...", "done": false, "count": 1500}, ...},
     "incremental": null, "follow": null}

``transform`` is the identity of a ``--transform`` (``module:function@<hash
of the module's source>``), so a resume with another transform, or with the
same function edited, is refused like one with another source.
``incremental`` is the :class:`~storeswap.migrate.incremental.ReplayCheckpoint`
of ``--apply-incremental`` (replayed after the copy), None before.
``follow`` is the change-stream follower's checkpoint (``--follow``, see
:mod:`storeswap.migrate.follow`): the stream position recorded before the
copy started, the position replayed up to, the records replayed, and a
``status`` (lag, records/s) refreshed about once a second; None for a copy without it.

The identity (source, target, parameters) is checked on every resume: a
state written for another source, target, table, spec or ``--segments`` /
``--batch`` is refused with one line naming the difference, because its
cursors and counts describe another copy (decision 0011).  Endpoints are the
stores' own redacted ``repr`` (no credentials).

A segment's entry moves forward only after the page it covers has been
written to the target (``bulk_load`` returned).  The state lives either in a
file, replaced with ``os.replace`` after an ``fsync`` of a temporary file in
the same directory (after a crash the file is the old or the new version,
never a torn one), or as one item of the storeswap-owned table
:data:`STATE_TABLE` in the target itself (``--state-in-target``), written
with a plain ``put`` through the port, so that a resume on another machine
finds it.  What a crash can lose is the progress of pages written after the
last checkpoint; a resume writes those pages again, which changes nothing
because a put replaces the whole item under its key.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, Protocol

from attrs import define, field

from storeswap.core.errors import ConfigurationError, TableExists
from storeswap.core.jsontext import JSON_ERRORS, describe
from storeswap.core.port import ItemStore
from storeswap.core.schema import KeyAttribute, TableSpec

__all__ = [
    "STATE_VERSION",
    "STATE_TABLE",
    "Side",
    "CopyIdentity",
    "SegmentState",
    "CopyState",
    "StateBackend",
    "FileState",
    "TargetState",
    "default_state_path",
    "spec_fingerprint",
]

STATE_VERSION = 2
#: The storeswap-owned table that holds checkpoints kept in the target (``--state-in-target``).
STATE_TABLE = "storeswap_migrate_state"


def spec_fingerprint(spec: TableSpec) -> str:
    """SHA-256 of the spec without its name (a renamed copy keeps the fingerprint)."""
    data = spec.to_dict()
    data.pop("name", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()


@define(frozen=True)
class Side:
    """One end of a copy: store kind, credential-free endpoint, table, and (source only) the spec fingerprint."""

    kind: str
    endpoint: str
    table: str
    spec_fingerprint: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        out: dict[str, Any] = {"kind": self.kind, "endpoint": self.endpoint, "table": self.table}
        if self.spec_fingerprint is not None:
            out["spec_fingerprint"] = self.spec_fingerprint
        return out

    @classmethod
    def from_json(cls, data: Any) -> Side:
        """Inverse of :meth:`to_json`; a malformed entry is a ConfigurationError."""
        if not isinstance(data, dict) or not {"kind", "endpoint", "table"} <= set(data):
            raise ConfigurationError(f"malformed side in the state: {data!r}")
        return cls(str(data["kind"]), str(data["endpoint"]), str(data["table"]), data.get("spec_fingerprint"))


@define(frozen=True)
class CopyIdentity:
    """What a checkpoint belongs to: source, target and the copy parameters that shape its cursors."""

    source: Side
    target: Side
    segments: int
    batch: int
    #: The identity of the transform the copy writes through (None: items are copied as they are).
    transform: str | None = None

    def digest(self) -> str:
        """A short hash of the endpoints and tables (names the default state file)."""
        text = json.dumps([self.source.to_json(), self.target.to_json()], sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]

    def mismatch(self, other: CopyIdentity) -> str | None:
        """The first difference between a stored identity (``other``) and this one, as a phrase; None when equal."""
        for role, mine, theirs in (("source", self.source, other.source), ("target", self.target, other.target)):
            for name in ("kind", "endpoint", "table", "spec_fingerprint"):
                a, b = getattr(theirs, name), getattr(mine, name)
                if a != b:
                    what = "table spec" if name == "spec_fingerprint" else name
                    return f"{role} {what} was {a!r}, now {b!r}"
        if other.segments != self.segments:
            return f"it was written with --segments {other.segments}, now {self.segments} (cursors belong to their segment)"
        if other.batch != self.batch:
            return f"it was written with --batch {other.batch}, now {self.batch}"
        if other.transform != self.transform:
            return f"it was written with --transform {other.transform!r}, now {self.transform!r}"
        return None


def default_state_path(identity: CopyIdentity) -> Path:
    """``./.storeswap/migrate-<table>-to-<target>-<hash>.json``: one file per pair of endpoints and tables."""
    return Path(".storeswap") / f"migrate-{identity.source.table}-to-{identity.target.table}-{identity.digest()}.json"


@define
class SegmentState:
    """Progress of one scan segment: where to resume, whether it is finished, items written."""

    cursor: str | None = None
    done: bool = False
    count: int = 0

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {"cursor": self.cursor, "done": self.done, "count": self.count}


class StateBackend(Protocol):
    """Where a checkpoint lives."""

    #: How messages name it (a path, or ``table X on the target``).
    where: str

    def load(self) -> str | None:
        """The stored JSON text, or None when there is none."""
        ...

    def save(self, text: str) -> None:
        """Store ``text`` durably (atomically replacing the old one)."""
        ...

    def clear(self) -> None:
        """Forget the stored state (``--restart``)."""
        ...


class FileState:
    """A checkpoint file, replaced atomically."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.where = f"the state file {self.path}"

    def load(self) -> str | None:
        """The file's text, or None when it does not exist."""
        if not self.path.exists():
            return None
        try:
            return self.path.read_text(encoding="utf-8")
        except (OSError, ValueError) as e:  # ValueError: not UTF-8 text
            raise ConfigurationError(f"cannot read {self.where}: {e}") from None

    def save(self, text: str) -> None:
        """Write a temporary file, fsync it, rename it over the old one, fsync the directory."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(text.encode("utf-8"))
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

    def clear(self) -> None:
        """Delete the file."""
        self.path.unlink(missing_ok=True)


#: The state table's spec: one item per copy, keyed by ``copy`` (``<source table> -> <target table>``).
STATE_SPEC = TableSpec(STATE_TABLE, KeyAttribute("copy", "S"))


class TargetState:
    """A checkpoint kept as one item of :data:`STATE_TABLE` in the target store, written through the port."""

    def __init__(self, store: ItemStore, source_table: str, target_table: str) -> None:
        self.store = store
        self.key = f"{source_table} -> {target_table}"
        self.where = f"the state {self.key!r} in table {STATE_TABLE} on the target"
        self._ready = False

    def _ensure_table(self) -> None:
        if self._ready:
            return
        if not self.store.table_exists(STATE_TABLE):
            with contextlib.suppress(TableExists):  # created concurrently by another run
                self.store.create_table(STATE_SPEC)
        self._ready = True

    def load(self) -> str | None:
        """The stored text, or None."""
        if not self.store.table_exists(STATE_TABLE):
            return None
        item = self.store.get(STATE_TABLE, {"copy": self.key}, consistent=True)
        if item is None:
            return None
        text = item.get("state")
        if not isinstance(text, str):
            raise ConfigurationError(f"{self.where} has no state text")
        return text

    def save(self, text: str) -> None:
        """One put: the whole state replaces the old one (a put is atomic on every store)."""
        self._ensure_table()
        self.store.put(STATE_TABLE, {"copy": self.key, "state": text})

    def clear(self) -> None:
        """Delete the item."""
        if self.store.table_exists(STATE_TABLE):
            self.store.delete(STATE_TABLE, {"copy": self.key})


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@define
class CopyState:
    """All segments of one copy, bound to its :class:`CopyIdentity`; ``backend=None`` keeps it in memory only."""

    identity: CopyIdentity
    backend: StateBackend | None = None
    started: str = field(factory=_now)
    segments: dict[int, SegmentState] = field(factory=dict)
    #: True when the state was read from the backend (a resume), False when new.
    loaded: bool = False
    #: The incremental-export replay's checkpoint (``ReplayCheckpoint.to_dict()``), None before any replay.
    incremental: dict[str, Any] | None = None
    #: The change-stream follower's checkpoint (``--follow``), None for a copy without one.
    follow: dict[str, Any] | None = None
    _lock: threading.Lock = field(factory=threading.Lock, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        for s in range(self.identity.segments):
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
        """The JSON form that is stored."""
        return {
            "version": STATE_VERSION,
            "source": self.identity.source.to_json(),
            "target": self.identity.target.to_json(),
            "total_segments": self.identity.segments,
            "batch": self.identity.batch,
            "transform": self.identity.transform,
            "incremental": self.incremental,
            "follow": self.follow,
            "started": self.started,
            "updated": _now(),
            "complete": self.done,
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
        """Store the state now (atomically)."""
        with self._lock:
            self._save_locked()

    def _save_locked(self) -> None:
        if self.backend is not None:
            self.backend.save(json.dumps(self.to_json(), indent=1, sort_keys=True))

    @classmethod
    def load_or_new(cls, backend: StateBackend | None, identity: CopyIdentity) -> CopyState:
        """Resume from ``backend`` when it holds a state (it must belong to ``identity``), else start fresh."""
        text = None if backend is None else backend.load()
        if text is None:
            return cls(identity, backend)
        assert backend is not None
        try:
            data = json.loads(text)
        except JSON_ERRORS as e:
            raise ConfigurationError(f"cannot read {backend.where}: {describe(e)}") from None
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            found = data.get("version") if isinstance(data, dict) else None
            raise ConfigurationError(
                f"{backend.where} has version {found!r}, not {STATE_VERSION}; rerun with --restart to start over"
            )
        try:
            stored = CopyIdentity(
                Side.from_json(data["source"]),
                Side.from_json(data["target"]),
                int(data["total_segments"]),
                int(data["batch"]),
                data.get("transform"),
            )
            segments = {
                int(k): SegmentState(v["cursor"], bool(v["done"]), int(v["count"])) for k, v in data["segments"].items()
            }
            started = str(data["started"])
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ConfigurationError(f"{backend.where} is malformed ({type(e).__name__}: {e})") from None
        diff = identity.mismatch(stored)
        if diff is not None:
            raise ConfigurationError(
                f"{backend.where} belongs to another copy ({stored.source.table} to {stored.target.table}): "
                f"{diff}; rerun with --restart to start over, or use another --state"
            )
        incremental = data.get("incremental")
        if incremental is not None and not isinstance(incremental, dict):
            raise ConfigurationError(f"{backend.where} is malformed (incremental is {type(incremental).__name__})")
        follow = data.get("follow")
        if follow is not None and not isinstance(follow, dict):
            raise ConfigurationError(f"{backend.where} is malformed (follow is {type(follow).__name__})")
        return cls(identity, backend, started, segments, loaded=True, incremental=incremental, follow=follow)

    def record_incremental(self, checkpoint: dict[str, Any]) -> None:
        """Store the incremental replay's checkpoint (after the target acknowledged the writes it covers)."""
        with self._lock:
            self.incremental = dict(checkpoint)
            self._save_locked()

    def record_follow(self, checkpoint: dict[str, Any]) -> None:
        """Store the follower's checkpoint (after the target acknowledged the writes it covers)."""
        with self._lock:
            self.follow = dict(checkpoint)
            self._save_locked()
