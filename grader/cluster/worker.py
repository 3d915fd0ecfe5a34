"""The Dask worker's side: one warm sandbox per worker process, and the task grading a chunk.

:class:`GradingPlugin` is registered by the client; on every Dask worker (those running and
those that join later, a restarted one included) it starts a :class:`Station`: the rubric
the client sent, the judging built from it and a :class:`~grader.sandbox.manager.Sandbox`
with every isolation layer this host offers. The plugin closes it when the worker closes.
:func:`grade_chunk_task` is the task: it grades one chunk with the station of the worker it
runs on and returns JSON text (reports of SPEC section 5, and which host graded them with
which layers), never an object.

Needs the grader installed on every worker host (the same version as the client's: a report
from another version is refused by the client).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import queue
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from distributed.diagnostics.plugin import WorkerPlugin

#: The plugin's name on every worker (one grader plugin per worker; a new batch replaces it).
PLUGIN = "adam-vs-momentum-grader"


@dataclass(frozen=True)
class Station:
    """One Dask worker process's grading machinery: rubric, judging, warm sandbox, free slots."""

    rubric_sha256: str
    judging: object
    sandbox: object
    #: Sandbox slots not in use: one per task running at once on this worker.
    slots: queue.Queue
    host: str

    @classmethod
    def open(cls, rubric_toml: bytes, *, namespaces: bool, scratch: str, threads: int) -> "Station":
        from grader.rubric import load_rubric
        from grader.sandbox.manager import Sandbox

        digest = hashlib.sha256(rubric_toml).hexdigest()
        path = Path(scratch) / f"rubric-{digest}.toml"
        path.write_bytes(rubric_toml)
        rubric = load_rubric(path)
        # The worker's scratch folder holds what Dask spills (other students' files among it).
        sandbox = Sandbox(rubric.limits, namespaces=namespaces, hide={scratch})
        sandbox.launch()  # the zygote warms up while the judging is built
        try:
            from grader.judging.items import Judging

            judging = Judging.create(rubric)
            sandbox.wait_ready()
        except BaseException:
            sandbox.close()
            raise
        slots: queue.Queue[int] = queue.Queue()
        for slot in range(max(1, threads)):
            slots.put(slot)
        return cls(digest, judging, sandbox, slots, socket.gethostname())

    def close(self) -> None:
        self.sandbox.close()


#: Seconds a task waits for its worker's station to be ready (a worker that has just joined,
#: or been restarted after a death, starts its sandbox before it can grade).
STATION_WAIT = 300.0


class GradingPlugin(WorkerPlugin):
    """Starts a :class:`Station` on each Dask worker, closes it with the worker.

    Holds only plain data (the rubric file's bytes and one flag), which is all that travels
    from the client to the workers with it.
    """

    name = PLUGIN
    idempotent = False  # registering again (another batch, another rubric) replaces it

    def __init__(self, rubric_toml: bytes, *, namespaces: bool = True):
        self.rubric_toml = bytes(rubric_toml)
        self.namespaces = bool(namespaces)
        self.station: Station | None = None
        #: Why this worker has no station (its sandbox failed to start), for the client.
        self.error: str | None = None

    async def setup(self, worker) -> None:
        # Starting the zygote and building the judging take seconds: not on the event loop.
        try:
            self.station = await asyncio.to_thread(
                Station.open, self.rubric_toml, namespaces=self.namespaces,
                scratch=worker.local_directory, threads=worker.state.nthreads)
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            raise

    def teardown(self, worker) -> None:
        station, self.station = self.station, None
        if station is not None:
            station.close()


def station_of_this_worker(worker=None, *, wait: float = STATION_WAIT) -> Station:
    """The station of ``worker`` (by default the one running the current task), once ready."""
    if worker is None:
        from distributed import get_worker

        worker = get_worker()
    deadline = time.monotonic() + wait
    while True:
        plugin = worker.plugins.get(PLUGIN)
        station = getattr(plugin, "station", None)
        error = getattr(plugin, "error", None)
        if station is not None:
            return station
        if error or time.monotonic() >= deadline:
            raise RuntimeError("this Dask worker has no grading station: " + (
                f"its sandbox failed to start ({error})" if error else
                "the grader's plugin is not registered or not ready"))
        time.sleep(0.1)


def describe_worker(dask_worker=None) -> dict:
    """Which host this worker is on and the isolation layers its sandbox obtained, or why it
    has none (plain data; never raises). ``Client.run`` passes the worker as ``dask_worker``."""
    try:
        station = station_of_this_worker(dask_worker, wait=0.0)
    except Exception as exc:  # noqa: BLE001 - described to the client, which decides
        return {"host": socket.gethostname(), "error": str(exc)}
    isolation = station.sandbox.isolation
    return {"host": station.host, "layers": list(isolation.layers), "warnings": list(isolation.warnings)}


def grade_chunk_task(chunk: list, rubric_sha256: str) -> str:
    """Grade one chunk (plain data, :func:`grader.chunk.submission_to_data`) on this worker.

    Returns JSON text: ``{"host", "layers", "warnings", "reports", "seconds"}``. Raises (and
    Dask retries elsewhere) when this worker cannot grade with the client's rubric.
    """
    from grader.chunk import grade_chunk

    station = station_of_this_worker()
    if station.rubric_sha256 != rubric_sha256:
        raise RuntimeError(f"this Dask worker holds rubric {station.rubric_sha256[:12]}, the batch "
                           f"needs {rubric_sha256[:12]}")
    seconds: dict[str, float] = {}

    def timed(report: dict, spent: float) -> None:
        seconds[report["student"]] = spent

    slot = station.slots.get()
    try:
        reports = grade_chunk(station.judging, station.sandbox, chunk, slots=(slot,),
                              rubric_sha256=rubric_sha256, on_report=timed)
    finally:
        station.slots.put(slot)
    isolation = station.sandbox.isolation
    return json.dumps({"host": station.host, "layers": list(isolation.layers), "warnings": list(isolation.warnings),
                       "reports": reports, "seconds": seconds}, ensure_ascii=False)
