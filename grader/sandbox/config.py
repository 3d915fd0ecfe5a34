"""The zygote's configuration: one frozen value, built by the trusted side, read by the zygote.

:func:`grader.sandbox.manager.sandbox_config` builds it (which paths a worker may read, which
it may only list, what is covered, the worker uids, the limits); it travels to the zygote as
one JSON message (:meth:`SandboxConfig.to_message`, :meth:`SandboxConfig.from_message`) and
is then passed, unchanged, to every supervisor and worker the zygote forks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from grader.engine.provided import FILE_BYTES, PROCESSES, WORKDIR_BYTES, names_plotting

#: The warm images a worker is forked from. Every zygote has imported numpy, sympy, the
#: worker and common standard modules before its first fork; the plotting image has also
#: imported matplotlib (Agg) and built its font list, about half a second more at start and
#: 30 MiB more in each fork. Which image a submission gets depends on its own source text only
#: (:func:`image_for`): a provided package's import is then charged the same in every batch
#: and every mode (nothing, for a submission that names matplotlib anywhere in its code).
PLAIN, PLOTTING = "plain", "plotting"
IMAGES = (PLAIN, PLOTTING)
def image_for(source: str | None) -> str:
    """The image a submission's worker is forked from: :data:`PLOTTING` when its source text
    names the plotting library (:func:`grader.engine.provided.names_plotting`: in an import, a
    string, even a comment), else :data:`PLAIN`. A file that builds the name at run time
    (``"mat" + "plotlib"``) gets the plain image and imports matplotlib itself, in every batch
    alike."""
    return PLOTTING if names_plotting(source) else PLAIN


@dataclass(frozen=True)
class WorkerLimits:
    """Per-worker limits (rlimits per process; cgroup limits per worker where the host has them)."""

    cpu_seconds: int
    memory_bytes: int
    #: Processes (threads included) of one worker.
    processes: int = PROCESSES
    #: Size of the worker's working directory (a tmpfs, or a loop of checks without one).
    workdir_bytes: int = WORKDIR_BYTES
    #: Largest file a worker may write.
    file_bytes: int = FILE_BYTES


@dataclass(frozen=True)
class SandboxConfig:
    """Everything the zygote needs to know, and nothing it must work out for itself."""

    namespaces: bool
    #: Optional layers the caller turned off (see ``manager.OPTIONAL_LAYERS``).
    disable: tuple[str, ...]
    #: Files and folders a worker may read (and execute), each on its own: the system folders,
    #: the standard library, the provided packages' folders, the grader files the worker runs.
    #: In the private root these are the only paths that exist.
    read: tuple[str, ...]
    #: Folders a worker may list but not read beneath (the site-packages folders, so that the
    #: import system finds the provided packages in them); Landlock only.
    listable: tuple[str, ...]
    #: Paths covered by an empty read-only folder in the private root.
    hide: tuple[str, ...]
    #: ``sys.path`` entries a worker keeps (the standard library and site-packages folders).
    python_paths: tuple[str, ...]
    #: Top-level module names student code may import besides the standard library.
    importable: tuple[str, ...]
    #: First worker uid when the grader runs as root (None: no uid of its own).
    uid_base: int | None
    limits: WorkerLimits
    #: Each spawn request carries the slot's cgroup.procs descriptors (see ``cgroups``); when
    #: False, ``cgroups_missing`` says why there are none.
    cgroups: bool = False
    cgroups_missing: str = ""
    #: The image this zygote warms (:data:`IMAGES`).
    image: str = PLOTTING

    def to_message(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_message(cls, data: dict) -> "SandboxConfig":
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {key: tuple(value) if type(value) is list else value
                  for key, value in data.items() if key in fields}
        values["limits"] = WorkerLimits(**data["limits"])
        return cls(**values)
