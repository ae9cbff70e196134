"""A study's report as data (tables and goals) and the writers of its files.

``Report`` holds a title, paragraphs, ``Table``s and ``Goal``s, plus the plain data that
``results.json`` keeps. ``write_report`` writes ``results.json`` and ``results.md`` (headed by the date,
the machine and the command that made it) into the study's output folder; the study's own plots go
beside them.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from dr_sim.extras import require
from dr_sim.file_io import write_atomically


@dataclass
class Table:
    """A markdown table: a caption line above it, a header row and rows of cells (already text)."""

    caption: str
    columns: Sequence[str]
    rows: list[Sequence[str]] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [self.caption, ""] if self.caption else []
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|" + "---|" * len(self.columns))
        lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in self.rows]
        return "\n".join(lines)


@dataclass
class Goal:
    """A goal of the study: what it asks, the measured value and whether it is met (``None``: not measured)."""

    goal: str
    value: float | None
    met: bool | None

    def markdown(self) -> str:
        value = "not measured" if self.value is None else f"{self.value:.2f}"
        verdict = {True: "**met**", False: "**not met**", None: "not judged"}[self.met]
        return f"- {self.goal}: {value} ({verdict})"

    def as_dict(self) -> dict[str, Any]:
        return {"goal": self.goal, "value": self.value, "met": self.met}


def goal_at_most(goal: str, value: float | None, limit: float) -> Goal:
    """``value <= limit`` (not judged when ``value`` is missing)."""
    return Goal(goal, value, None if value is None else value <= limit)


def goal_at_least(goal: str, value: float | None, limit: float) -> Goal:
    """``value >= limit`` (not judged when ``value`` is missing)."""
    return Goal(goal, value, None if value is None else value >= limit)


@dataclass
class Report:
    """What a study reports: its title, paragraphs, tables and goals, and the data behind them."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def markdown(self, provenance: str = "") -> str:
        parts = [f"# {self.title}"]
        if provenance:
            parts.append(provenance)
        parts += self.paragraphs
        parts += [table.markdown() for table in self.tables]
        if self.goals:
            parts.append("Goals:\n\n" + "\n".join(goal.markdown() for goal in self.goals))
        return "\n\n".join(parts) + "\n"


def cm_cell(value: float | None) -> str:
    """A length in cm with two decimals, ``-`` when missing."""
    return "-" if value is None else f"{value:.2f}"


def success_cell(result: Mapping[str, Any] | None) -> str:
    """``85% [77%, 91%]``: a success rate with its Wilson 95% interval, ``-`` when missing."""
    if not result:
        return "-"
    return f"{result['success_rate']:.0%} [{result['ci_low']:.0%}, {result['ci_high']:.0%}]"


def machine() -> str:
    """The machine in words: cores, architecture and whether a GPU was visible to torch."""
    gpu = "no GPU"
    if "torch" in sys.modules and sys.modules["torch"].cuda.is_available():
        gpu = f"GPU {sys.modules['torch'].cuda.get_device_name(0)}"
    return f"{os.cpu_count()}-core {platform.machine()}, {gpu}"


def provenance(command: str, today: date | None = None) -> str:
    """The line that heads a report: when, on what, by which command."""
    return f"Run {(today or date.today()).isoformat()} on a {machine()}; command: `{command}`."


def write_report(report: Report, out: Path, command: str) -> Path:
    """``results.json`` and ``results.md`` in ``out``; returns the markdown's path."""
    out.mkdir(parents=True, exist_ok=True)
    header = provenance(command)
    data = {
        "title": report.title,
        "provenance": header,
        "goals": [goal.as_dict() for goal in report.goals],
        **report.data,
    }
    write_atomically(out / "results.json", (json.dumps(data, indent=1, default=str) + "\n").encode())
    write_atomically(out / "results.md", report.markdown(header).encode())
    return out / "results.md"


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the file-only Agg backend (matplotlib comes with dr-sim's ``train`` extra)."""
    matplotlib = require("matplotlib", "the study's plots")
    matplotlib.use("Agg")
    return require("matplotlib.pyplot", "the study's plots")
