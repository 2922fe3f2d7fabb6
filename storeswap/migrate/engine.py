"""Where a migration's tasks run: ``--engine threads | processes[:N] | dask://HOST:PORT``.

- ``threads`` (the default): a thread pool in this process, as before.
- ``processes[:N]``: a local Dask cluster of ``N`` worker processes (default:
  the CPU count), one thread each, so encoding uses every core.
- ``dask://HOST:PORT``: an existing Dask scheduler; every task runs on any of
  its workers, on any machine.

Dask (``distributed``) is the engine because it runs plain Python functions
as tasks, retries a task whose worker died on another worker, and needs
nothing beyond ``pip install`` (decision 0025).  The engines only run
functions; what a task does (a copy segment, a verify digest) lives with
the migration code that submits it.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any, Literal, TypeVar

from attrs import define

from storeswap.core.errors import ConfigurationError

__all__ = [
    "EngineSpec",
    "parse_engine",
    "Engine",
    "ThreadEngine",
    "DaskEngine",
    "open_engine",
    "DaskProcesses",
    "worker_peak_rss_mb",
    "peak_rss_kb",
    "MAX_LOCAL_THREADS",
]

T = TypeVar("T")

#: Threads a local pool (copy without --workers, verify, check) starts at most: segments are units of work,
#: and beyond this they queue — a DynamoDB table may be scanned in thousands of segments.
MAX_LOCAL_THREADS = 32

#: How often a waiting engine calls its ``tick`` (progress polling), in seconds.
TICK_SECONDS = 0.25


@define(frozen=True)
class EngineSpec:
    """A parsed ``--engine`` value."""

    kind: Literal["threads", "processes", "dask"]
    workers: int | None = None
    address: str | None = None

    @property
    def distributed(self) -> bool:
        """True when tasks run outside this process (they must open their stores themselves)."""
        return self.kind != "threads"

    def __str__(self) -> str:
        if self.kind == "dask":
            return f"dask://{self.address}"
        return self.kind if self.workers is None else f"{self.kind}:{self.workers}"


def parse_engine(text: str) -> EngineSpec:
    """Parse ``threads``, ``processes``, ``processes:N`` or ``dask://HOST:PORT``."""
    t = text.strip()
    if t == "threads":
        return EngineSpec("threads")
    if t == "processes" or t.startswith("processes:"):
        n = t.partition(":")[2]
        if not n:
            return EngineSpec("processes")
        if not n.isdigit() or int(n) < 1:
            raise ConfigurationError(f"--engine processes:N takes a positive worker count, not {n!r}")
        return EngineSpec("processes", int(n))
    if t.startswith("dask://"):
        address = t[len("dask://") :]
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigurationError(f"--engine dask://HOST:PORT names a Dask scheduler, not {text!r}")
        return EngineSpec("dask", None, address)
    raise ConfigurationError(f"unknown --engine {text!r}: use threads, processes[:N] or dask://HOST:PORT")


class Engine:
    """Runs a function over many arguments and returns the results in order; the first failure is raised."""

    spec: EngineSpec

    @property
    def workers(self) -> int:
        """How many tasks run at once."""
        raise NotImplementedError

    @property
    def processes(self) -> int:
        """How many processes run the tasks (a per-process budget such as ``--max-rcu`` is split by this)."""
        return 1

    def run(
        self, fn: Callable[[Any], T], args: Sequence[Any], *, tick: Callable[[], None] | None = None
    ) -> list[T]:
        """``[fn(a) for a in args]`` on the engine; ``tick`` is called every :data:`TICK_SECONDS` while waiting."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the engine's workers (an existing Dask scheduler is only disconnected from)."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ThreadEngine(Engine):
    """A thread pool in this process."""

    def __init__(self, workers: int) -> None:
        self.spec = EngineSpec("threads", workers)
        self._workers = workers

    @property
    def workers(self) -> int:
        """The pool size."""
        return self._workers

    def run(
        self, fn: Callable[[Any], T], args: Sequence[Any], *, tick: Callable[[], None] | None = None
    ) -> list[T]:
        """Run on the pool; on a failure the tasks not started are cancelled and running ones finish."""
        with ThreadPoolExecutor(max_workers=max(1, min(self._workers, len(args)))) as pool:
            futures = [pool.submit(fn, a) for a in args]
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=TICK_SECONDS, return_when=FIRST_EXCEPTION)
                if tick is not None:
                    tick()
                failed = [f for f in done if f.exception() is not None]
                if failed:
                    for f in pending:
                        f.cancel()
                    raise failed[0].exception()  # type: ignore[misc]
            return [f.result() for f in futures]


class DaskEngine(Engine):
    """A Dask ``distributed`` client: of a local cluster of processes, or of an existing scheduler."""

    def __init__(self, spec: EngineSpec, *, retries: int = 3) -> None:
        from distributed import Client, LocalCluster

        self.spec = spec
        self.retries = retries
        self._cluster: Any = None
        if spec.kind == "processes":
            n = spec.workers or os.cpu_count() or 1
            self._cluster = LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                silence_logs=logging.ERROR,
            )
            self.client: Any = Client(self._cluster)  # type: ignore[no-untyped-call]
        elif spec.kind == "dask":
            self.client = Client(f"tcp://{spec.address}", timeout=30)  # type: ignore[no-untyped-call]
        else:
            raise ConfigurationError(f"DaskEngine runs processes or dask:// engines, not {spec}")

    @property
    def workers(self) -> int:
        """Worker threads currently known to the scheduler."""
        info = self.client.scheduler_info()
        return sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values()) or 1

    @property
    def processes(self) -> int:
        """Worker processes currently known to the scheduler (at least 1)."""
        return len(self.client.scheduler_info().get("workers", {})) or 1

    def run(
        self, fn: Callable[[Any], T], args: Sequence[Any], *, tick: Callable[[], None] | None = None
    ) -> list[T]:
        """One task per argument (a task whose worker dies is re-run elsewhere, ``retries`` on errors)."""
        futures = [self.client.submit(fn, a, pure=False, retries=self.retries) for a in args]
        try:
            while True:
                if all(f.done() for f in futures):
                    break
                failed = [f for f in futures if f.status == "error"]
                if failed:
                    failed[0].result()  # raises the task's exception
                if tick is not None:
                    tick()
                time.sleep(TICK_SECONDS)
            if tick is not None:
                tick()
            return list(self.client.gather(futures))
        except BaseException:
            self.client.cancel(futures)
            raise

    def close(self) -> None:
        """Close the client, and the local cluster when this engine started it."""
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def open_engine(spec: EngineSpec | str, *, threads: int = 4) -> Engine:
    """Start (or connect to) the engine ``spec``; ``threads`` sizes a ``threads`` engine without a count."""
    if isinstance(spec, str):
        spec = parse_engine(spec)
    if spec.kind == "threads":
        return ThreadEngine(spec.workers or threads)
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ConfigurationError(
            f"--engine {spec} needs Dask: pip install 'storeswap[distributed]'"
        ) from None
    return DaskEngine(spec)


class DaskProcesses:
    """A Dask scheduler and ``workers`` workers as separate OS processes on loopback (``dask scheduler`` /
    ``dask worker``, no nanny: killing a worker's process kills the worker), for tests and measurements of
    the ``dask://`` engine exactly as a real cluster runs it."""

    def __init__(self, workers: int = 2, *, threads_per_worker: int = 1) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.address = f"127.0.0.1:{port}"
        quiet = subprocess.DEVNULL
        self.scheduler = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port),
             "--dashboard-address", ":0"],
            stdout=quiet, stderr=quiet,
        )
        self.workers = [
            subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", f"tcp://{self.address}", "--no-nanny",
                 "--nthreads", str(threads_per_worker), "--host", "127.0.0.1", "--dashboard-address", ":0"],
                stdout=quiet, stderr=quiet,
            )
            for _ in range(workers)
        ]
        self._wait_for(workers)

    def _wait_for(self, n: int, timeout: float = 120.0) -> None:
        from distributed import Client

        deadline = time.monotonic() + timeout
        while True:
            try:
                with Client(f"tcp://{self.address}", timeout=10) as c:  # type: ignore[no-untyped-call]
                    c.wait_for_workers(n, timeout=max(1.0, deadline - time.monotonic()))
                    return
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    self.close()
                    raise

    @property
    def engine(self) -> str:
        """The ``--engine`` value naming this scheduler."""
        return f"dask://{self.address}"

    def close(self) -> None:
        """Stop the workers, then the scheduler."""
        for p in [*self.workers, self.scheduler]:
            if p.poll() is None:
                p.terminate()
        for p in [*self.workers, self.scheduler]:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def __enter__(self) -> DaskProcesses:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def peak_rss_kb() -> int:
    """This process's peak RSS in KiB (`VmHWM`, which execve resets, else `getrusage`)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def worker_peak_rss_mb(engine: Engine) -> dict[str, float]:
    """Peak RSS of each worker process of a Dask engine, in MB (``VmHWM``); this process for threads."""
    if isinstance(engine, DaskEngine):
        return {str(k): round(v / 1024, 1) for k, v in engine.client.run(peak_rss_kb).items()}
    return {"local": round(peak_rss_kb() / 1024, 1)}
