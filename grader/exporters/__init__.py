"""Exporters: small functions that turn the batch's reports into files for other tools.

Each exporter takes the reports, the rubric, the output folder and its own options, and
writes its files inside the output folder only. Scoring policy never lives here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping, Sequence

from ..results import Report
from ..rubric import Rubric

Exporter = Callable[[Path, Sequence[Report], Rubric, Mapping], None]

#: Exporters that run on every batch, by name.
EXPORTERS: dict[str, Exporter] = {}


def write_exports(out: Path, reports: Sequence[Report], rubric: Rubric, options: Mapping) -> None:
    """Run every exporter; ``options`` maps an exporter's name to its own options."""
    for name, exporter in EXPORTERS.items():
        exporter(Path(out), reports, rubric, options.get(name, {}))
