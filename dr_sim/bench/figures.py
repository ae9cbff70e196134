"""One row of the benchmark table, the table itself, and side-by-side timing of two callables."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Figure:
    """One row of the table: ``value`` against ``goal`` (``higher``: whether larger is better).

    ``goal`` is ``None`` for a figure that is reported, not judged; ``family`` names the ``--only``
    group that measured it."""

    name: str
    value: float
    unit: str
    goal: float | None
    higher: bool
    baseline: str
    details: dict[str, Any]
    family: str = "engine"

    @property
    def passed(self) -> bool | None:
        if self.goal is None:
            return None
        if not math.isfinite(self.value):
            return False
        return self.value >= self.goal if self.higher else self.value <= self.goal


@dataclass
class SideBySide:
    """Medians over interleaved blocks: seconds per call of each side and the ratio ``baseline / subject``."""

    ratio: float
    subject_s: float
    baseline_s: float
    blocks: int
    calls: int


def side_by_side(subject: Callable[[], Any], baseline: Callable[[], Any], blocks: int, calls: int) -> SideBySide:
    """Time ``calls`` calls of each side per block, ``blocks`` blocks, which side goes first alternating.

    The ratio (baseline seconds over subject seconds, > 1: the subject is faster) is the median of the
    per-block ratios, so that load from other processes, which drifts slowly, cancels."""
    ratios, subject_times, baseline_times = [], [], []
    for block in range(blocks):
        order = (subject, baseline) if block % 2 else (baseline, subject)
        seconds = []
        for side in order:
            start = time.perf_counter()
            for _ in range(calls):
                side()
            seconds.append((time.perf_counter() - start) / calls)
        base_s, subject_s = seconds if block % 2 == 0 else seconds[::-1]
        ratios.append(base_s / subject_s)
        subject_times.append(subject_s)
        baseline_times.append(base_s)
    return SideBySide(
        statistics.median(ratios), statistics.median(subject_times), statistics.median(baseline_times), blocks, calls
    )


def ratio_figure(
    name: str, timing: SideBySide, goal: float | None, baseline: str, details: dict[str, Any], family: str
) -> Figure:
    """A side-by-side speed ratio (baseline seconds / subject seconds, higher is better) as a figure;
    ``baseline`` is the text of its baseline column, ``details`` gain the blocks and calls timed."""
    return Figure(
        name=name,
        value=timing.ratio,
        unit="x",
        goal=goal,
        higher=True,
        baseline=baseline,
        details={**details, "blocks": timing.blocks, "calls": timing.calls},
        family=family,
    )


def format_table(figures: list[dict[str, Any]]) -> list[str]:
    """The figures (``asdict`` of ``Figure`` plus ``passed``) as the lines of one text table."""
    header = ("figure", "value", "goal", "baseline", "result")
    rows = []
    for figure in figures:
        megabytes = figure["unit"] == "MB"
        unit = f" {figure['unit']}" if megabytes else figure["unit"]
        value = f"{figure['value']:+.2f}{unit}" if megabytes else f"{figure['value']:.3g}{unit}"
        if figure["goal"] is None:
            goal, result = "reported", ""
        else:
            sign = ">=" if figure["higher"] else ("<" if megabytes else "<=")
            goal, result = f"{sign} {figure['goal']:g}{unit}", "pass" if figure["passed"] else "FAIL"
        rows.append((figure["name"], value, goal, figure["baseline"], result))
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return lines
