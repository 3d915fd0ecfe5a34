"""The client's side of a batch on Dask: send chunks, check what comes back, hand it to the batch.

:func:`grade_on_cluster` is called by :func:`grader.batch.grade_batch` with the submissions
left to grade; the batch writes each report the moment its chunk is back (so an interrupted
client resumes as on one machine) and all the class files at the end.

What crosses: the rubric file's bytes (in the plugin), each chunk's submissions as plain
data, and JSON text back. Every report is checked by :func:`check_report` against the
schema, the rubric and the submission it was sent for before it is written; one that fails
becomes an ``ungradable`` report of its student (never a silent 0), and so does every
submission of a chunk the cluster could not grade. A worker that dies mid-chunk has its
chunk graded again on another worker by Dask (up to ``distributed.scheduler.allowed-failures``
deaths); the client receives one result per chunk and writes each report once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import sys
import typing
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

from grader import __version__
from grader.errors import GraderError
from grader.intake.submissions import Submission
from grader.results import OUTCOME_KINDS, Report, Status, submission_outcome
from grader.rubric import Rubric
from grader.sandbox.isolation import ALL_LAYERS
from grader.sandbox.manager import Isolation

#: Submissions per chunk at most: a worker's death costs at most this many regradings, and
#: the client writes reports at least this often.
MAX_CHUNK = 8
#: How many times Dask runs a chunk again after it raised (a worker that died is rescheduled
#: separately, by the scheduler).
RETRIES = 2

REPORT_KEYS = {"schema", "student", "outcome", "submission", "sha256", "total", "max_total", "parts", "items",
               "grader_version", "rubric_sha256", "isolation", "notes"}
ITEM_KEYS = {"id", "part", "title", "points", "max_points", "status", "feedback", "misconceptions"}
PART_KEYS = {"id", "title", "points", "max_points"}
STATUSES = set(typing.get_args(Status))


@dataclass(frozen=True)
class HostLayers:
    """The isolation a host's sandbox obtained, as its workers told it."""

    host: str
    isolation: Isolation


def parse_address(address: str) -> tuple[str, int | None]:
    """``local:N`` -> ("local", N); anything else is a scheduler address -> (address, None)."""
    if address.startswith("local:"):
        try:
            count = int(address.split(":", 1)[1])
        except ValueError:
            count = 0
        if count < 1:
            raise GraderError(f"--dask {address}: local:N needs a number of workers N >= 1")
        return "local", count
    if not address.strip():
        raise GraderError("--dask needs a scheduler address (tcp://host:8786) or local:N")
    return address, None


@contextlib.contextmanager
def connect(address: str) -> Iterator[object]:
    """A Dask client of the scheduler at ``address``, or of a new local cluster (``local:N``)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise GraderError("--dask needs dask and distributed: pip install '.[cluster]'") from None
    where, count = parse_address(address)
    if count is not None:
        # One thread per worker process: each process holds one sandbox and grades one
        # submission at a time, as --workers N does on one machine.
        with LocalCluster(n_workers=count, threads_per_worker=1, processes=True, dashboard_address=None,
                          silence_logs=40) as cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(where, timeout="30s")
    except OSError as exc:
        raise GraderError(f"cannot reach the Dask scheduler at {where}: {exc}") from None
    with client:
        yield client


def chunks_of(todo: Sequence[Submission], threads: int) -> list[list[Submission]]:
    """Consecutive chunks, small enough that every thread of the cluster gets several."""
    size = max(1, min(MAX_CHUNK, math.ceil(len(todo) / max(1, 4 * threads))))
    return [list(todo[k:k + size]) for k in range(0, len(todo), size)]


def grade_on_cluster(address: str, todo: Sequence[Submission], rubric: Rubric, rubric_path: Path,
                     digest: str, *, namespaces: bool,
                     finished: Callable[[Report, float], None],
                     stream=sys.stderr) -> tuple[list[Report], Isolation]:
    """Grade ``todo`` on the cluster; ``finished`` gets each checked report as its chunk is back.

    Returns the reports (in the order of ``todo``) and the layers every host had in force.
    """
    from distributed import as_completed

    from grader.chunk import submission_to_data
    from grader.cluster.worker import GradingPlugin, grade_chunk_task

    rubric_toml = Path(rubric_path).read_bytes()
    hosts: dict[str, Isolation] = {}
    by_student: dict[str, Report] = {}
    with connect(address) as client:
        start_stations(client, GradingPlugin(rubric_toml, namespaces=namespaces), hosts)
        warn_hosts(hosts, stream)
        threads = sum(client.nthreads().values()) or 1
        batch = uuid.uuid4().hex[:12]
        chunks = chunks_of(todo, threads)
        futures = {client.submit(grade_chunk_task, [submission_to_data(s) for s in chunk], digest,
                                 key=f"adam-grader-{batch}-{k:06d}", pure=False, retries=RETRIES): chunk
                   for k, chunk in enumerate(chunks)}
        known = dict(hosts)
        for future in as_completed(futures):
            chunk = futures.pop(future)
            try:
                answer = json.loads(future.result())
            except Exception as exc:  # noqa: BLE001 - the cluster failed this chunk: its students only
                reason = f"the Dask cluster could not grade this chunk ({type(exc).__name__}: {exc})"
                for sub in chunk:
                    _finish(_ungradable(rubric, sub, reason, digest), 0.0, by_student, finished)
                continue
            for report, seconds in _checked(answer, chunk, rubric, digest, hosts):
                _finish(report, seconds, by_student, finished)
        if hosts != known:
            warn_hosts(hosts, stream)
    common = [layer for layer in ALL_LAYERS if all(layer in i.layers for i in hosts.values())] if hosts else []
    warnings = tuple(sorted({w for i in hosts.values() for w in i.warnings}))
    return [by_student[s.student] for s in todo], Isolation(tuple(common), warnings)


def start_stations(client, plugin, hosts: dict[str, Isolation]) -> None:
    """Register the grading plugin (every worker, and every later one, starts its station) and
    record each host's layers. A worker lost meanwhile is no failure: the others grade, and
    its replacement starts its own station; but a cluster where no worker could start one is.
    """
    from grader.cluster.worker import describe_worker

    try:
        client.register_plugin(plugin)
        failure = ""
    except Exception as exc:  # noqa: BLE001 - one worker's failure; decided below from all of them
        failure = f"{type(exc).__name__}: {exc}"
    answers = [a for a in client.run(describe_worker, on_error="return").values() if isinstance(a, dict)]
    for answer in answers:
        _seen(hosts, answer)
    errors = sorted({str(a["error"]) for a in answers if "error" in a})
    if not hosts and (errors or failure):
        raise GraderError("no Dask worker could start the grader's sandbox: "
                          + "; ".join(errors or [failure])[:2000])


def _finish(report: Report, seconds: float, by_student: dict, finished) -> None:
    by_student[report.student] = report
    finished(report, seconds)


def _seen(hosts: dict[str, Isolation], info: dict) -> None:
    host, layers, warnings = info.get("host"), info.get("layers"), info.get("warnings", [])
    if (isinstance(host, str) and isinstance(layers, list) and all(isinstance(x, str) for x in layers)
            and isinstance(warnings, list) and all(isinstance(x, str) for x in warnings)):
        hosts.setdefault(host, Isolation(tuple(layers), tuple(warnings)))


def _checked(answer, chunk: list[Submission], rubric: Rubric, digest: str, hosts: dict):
    """(report, seconds) for each of the chunk's submissions, each report checked."""
    reports = answer.get("reports") if isinstance(answer, dict) else None
    seconds = answer.get("seconds") if isinstance(answer, dict) else None
    if not isinstance(reports, list) or len(reports) != len(chunk) or not isinstance(seconds, dict):
        reason = "the Dask worker's answer is malformed (not one report per submission sent)"
        for sub in chunk:
            yield _ungradable(rubric, sub, reason, digest), 0.0
        return
    _seen(hosts, answer)
    for sub, data in zip(chunk, reports):
        spent = seconds.get(sub.student, 0.0)
        spent = float(spent) if isinstance(spent, (int, float)) and not isinstance(spent, bool) else 0.0
        try:
            yield check_report(data, sub, rubric, digest), spent
        except ValueError as exc:
            yield _ungradable(rubric, sub, f"the report from the Dask worker was refused: {exc}", digest), spent


def _ungradable(rubric: Rubric, sub: Submission, reason: str, digest: str) -> Report:
    from grader.judging.grading import ungradable

    return dataclasses.replace(ungradable(rubric, sub, reason, ()), rubric_sha256=digest)


def _strings(value, what: str) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what} must be a list of strings")


def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number")
    return float(value)


def check_report(data, sub: Submission, rubric: Rubric, digest: str) -> Report:
    """The report of ``sub`` from its JSON form, or :class:`ValueError` saying what is wrong.

    Checks the schema's fields and types, that the report is the one of the submission sent
    (student, origin, digest), this grader version and rubric, the rubric's items and parts
    with points within their maxima and parts and totals that add up, known statuses,
    misconceptions and isolation layers, an outcome that follows from the items; and that the dict is exactly the canonical form of
    the report it describes, so the files written from it are the ones one machine writes.
    """
    from grader.judging.grading import parts_of
    from grader.judging.misconceptions import CATALOGUE
    from grader.outputs.reports import SCHEMA, report_from_dict, report_to_dict

    if not isinstance(data, dict) or set(data) != REPORT_KEYS:
        raise ValueError("not a report: its fields are not those of the report schema")
    expected = {"schema": SCHEMA, "student": sub.student, "submission": sub.origin, "sha256": sub.sha256,
                "grader_version": __version__, "rubric_sha256": digest}
    for key, value in expected.items():
        if data[key] != value:
            raise ValueError(f"{key} is {str(data[key])[:80]!r}, expected {value!r}")
    items = data["items"]
    if not isinstance(items, list) or len(items) != len(rubric.items):
        raise ValueError("the items are not the rubric's items")
    for raw, item in zip(items, rubric.items):
        if not isinstance(raw, dict) or set(raw) != ITEM_KEYS:
            raise ValueError(f"item {item.id}: not an item of the report schema")
        if (raw["id"], raw["part"], raw["title"]) != (item.id, item.part, item.title):
            raise ValueError(f"item {str(raw['id'])[:40]!r} is not the rubric's item {item.id}")
        points, max_points = _number(raw["points"], f"item {item.id} points"), _number(
            raw["max_points"], f"item {item.id} max_points")
        if max_points != item.points or not 0 <= points <= max_points:
            raise ValueError(f"item {item.id}: {points} of {max_points} points (the rubric gives {item.points})")
        if raw["status"] not in STATUSES:
            raise ValueError(f"item {item.id}: unknown status")
        _strings(raw["feedback"], f"item {item.id} feedback")
        _strings(raw["misconceptions"], f"item {item.id} misconceptions")
        if any(m not in CATALOGUE for m in raw["misconceptions"]):
            raise ValueError(f"item {item.id}: unknown misconception")
    parts = data["parts"]
    if not isinstance(parts, list) or not all(isinstance(p, dict) and set(p) == PART_KEYS for p in parts):
        raise ValueError("the parts are not those of the report schema")
    _strings(data["isolation"], "isolation")
    if any(layer not in ALL_LAYERS for layer in data["isolation"]):
        raise ValueError("unknown isolation layer")
    _strings(data["notes"], "notes")
    outcome = data["outcome"]
    if (not isinstance(outcome, dict) or set(outcome) != {"kind", "reason"} or outcome["kind"] not in OUTCOME_KINDS
            or not isinstance(outcome["reason"], str)):
        raise ValueError("the outcome is not one of the report schema")
    report = report_from_dict(data)
    if report.parts != parts_of(rubric, report.items):
        raise ValueError("the part points are not the sums of their items")
    if report.outcome.kind != submission_outcome(report.items, sub.error).kind:
        raise ValueError(f"the outcome {report.outcome.kind!r} does not follow from the items")
    if report_to_dict(report) != data:
        raise ValueError("the report is not in its canonical form (totals, rounding or order differ)")
    return report


def warn_hosts(hosts: dict[str, Isolation], stream=sys.stderr) -> None:
    """Say loudly which layers are missing, and on which hosts when hosts differ."""
    from grader.batch import warn_isolation

    if not hosts:
        return
    distinct = set(hosts.values())
    if len(distinct) == 1:
        warn_isolation(next(iter(distinct)), stream)
        return
    lines = ["", "!" * 78, "WARNING: the hosts of the Dask cluster grade with different isolation layers",
             "(each report lists the layers of the host that graded it):"]
    for host, isolation in sorted(hosts.items()):
        lines.append(f"  - {host}: " + (f"missing {', '.join(isolation.missing)}" if isolation.missing
                                        else "every layer"))
    lines += ["!" * 78, ""]
    print("\n".join(lines), file=stream)
    common = [layer for layer in ALL_LAYERS if all(layer in i.layers for i in distinct)]
    warn_isolation(Isolation(tuple(common), tuple(sorted({w for i in distinct for w in i.warnings}))), stream)
