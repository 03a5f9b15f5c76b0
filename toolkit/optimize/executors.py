"""Where grid chunks run: in this process, or on a dask.distributed cluster.

Both executors run the SAME tasks (:class:`~toolkit.optimize.evaluate.GridTask`,
built once by the walk-forward) through the SAME pure function and hand results
back in task order, so a dask run gives exactly the results of a local run; only
where the arithmetic happens changes. The bars are sent to the workers once
(``scatter``), not with every task.

Progress bars come from :func:`progress_bar`: ``tqdm.auto`` (a widget in
JupyterLab) for interactive use, or plain text lines (``mode="text"``) for headless
papermill runs, where a widget would leave nothing readable in the executed
notebook or its log.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")
ProgressMode = Literal["auto", "text", "off"]


class Executor(Protocol):
    """Runs ``fn(task, shared)`` for every task; results come back in task order."""

    name: str

    def map(
        self,
        fn: Callable[[T, Any], R],
        tasks: Sequence[T],
        shared: Any,
        *,
        on_result: Callable[[int, R], None] | None = None,
    ) -> list[R]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Run tasks one after another in this process (the default, and the reference)."""

    name = "local"

    def map(self, fn, tasks, shared, *, on_result=None):
        out = []
        for i, task in enumerate(tasks):
            res = fn(task, shared)
            if on_result:
                on_result(i, res)
            out.append(res)
        return out

    def close(self) -> None:
        pass

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return "LocalExecutor()"


class DaskExecutor:
    """Run tasks on dask.distributed: a given scheduler, or a small local cluster.

    Without ``scheduler_address`` a ``LocalCluster`` of ``n_workers`` single-threaded
    workers is started in this process (``processes=False``): a fresh worker
    process would pay the multi-second vectorbt import again and copy the bars,
    while the simulation and numpy kernels do their heavy lifting outside Python.
    Point ``scheduler_address`` at a real cluster to scale out (its workers need
    this package installed).
    """

    name = "dask"

    def __init__(self, scheduler_address: str | None = None, *, n_workers: int = 2, processes: bool = False) -> None:
        from distributed import Client, LocalCluster

        self.scheduler_address = scheduler_address
        self._cluster = None
        if scheduler_address:
            self.client = Client(scheduler_address, set_as_default=False)
        else:
            self._cluster = LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=processes,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            self.client = Client(self._cluster, set_as_default=False)

    def map(self, fn, tasks, shared, *, on_result=None):
        from distributed import as_completed

        if not tasks:
            return []
        shared_future = self.client.scatter(shared, broadcast=True, hash=False)
        futures = [self.client.submit(fn, task, shared_future, pure=False) for task in tasks]
        position = {f.key: i for i, f in enumerate(futures)}
        out: list[Any] = [None] * len(tasks)
        try:
            for fut in as_completed(futures, loop=self.client.loop):
                i = position[fut.key]
                out[i] = fut.result()
                fut.release()
                if on_result:
                    on_result(i, out[i])
        finally:
            self.client.cancel([f for f in futures if not f.done()])
        return out

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = self.scheduler_address or f"LocalCluster({len(self.client.scheduler_info()['workers'])} workers)"
        return f"DaskExecutor({where})"


def make_executor(
    kind: str, *, scheduler_address: str | None = None, n_workers: int = 2
) -> LocalExecutor | DaskExecutor:
    """The executor a params file asks for (``executor: local | dask``)."""
    if kind == "local":
        return LocalExecutor()
    if kind == "dask":
        return DaskExecutor(scheduler_address, n_workers=n_workers)
    raise ValueError(f"executor: got {kind!r}; allowed: local, dask")


class _Lines:
    """A file for tqdm that turns each redraw into one plain line (no carriage returns).

    A notebook stream or a log file keeps every ``\\r`` redraw glued on one line;
    whole lines read well in both.
    """

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, s: str) -> None:
        text = s.replace("\r", "").replace("\x1b[A", "").strip()
        if text:
            self.stream.write(text + "\n")

    def flush(self) -> None:
        self.stream.flush()


class _NoBar:
    """What ``progress_bar(mode="off")`` returns: the tqdm methods we use, doing nothing."""

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def set_postfix_str(self, s: str = "") -> None:
        pass


def progress_bar(total: int, *, desc: str, unit: str, mode: ProgressMode = "auto", position: int = 0):
    """A tqdm bar: ``auto`` = tqdm.auto (widget in Jupyter), ``text`` = plain lines, ``off`` = none."""
    if mode == "off":
        return _NoBar()
    if mode == "text":
        from tqdm.std import tqdm

        return tqdm(total=total, desc=desc, unit=unit, file=_Lines(sys.stdout), ascii=True, ncols=100, mininterval=2.0)
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, position=position, leave=True)
