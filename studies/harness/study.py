"""A study as data: its points, how one is computed, and what the results say.

A subclass sets ``name`` (its folder under ``studies/``) and ``config_model`` (the pydantic model of its
YAML), and implements ``points``, ``compute`` and ``report`` (``prepare`` and ``plots`` are optional).
``run`` computes every point that is not cached yet through the ``RunCache`` in ``OUT/points``, then
writes the report.
"""

from __future__ import annotations

import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from dr_sim.config.params import StrictModel
from dr_sim.errors import ConfigError
from dr_sim.run_cache import RunCache
from studies.harness.report import Report, write_report

STUDIES = Path(__file__).resolve().parent.parent
RUNS = STUDIES.parent / "runs"  # default outputs: runs/<study> in the checkout


@dataclass(frozen=True)
class Point:
    """One point of a study: its ``settings`` (plain JSON data) are everything its result depends on;
    ``group`` names the arm or family it belongs to."""

    name: str
    settings: dict[str, Any]
    group: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # what the study needs to compute it, not hashed


class Study(ABC):
    """Points, their computation and the report of one study (see the module docstring)."""

    name: ClassVar[str]
    config_model: ClassVar[type[StrictModel]]

    def __init__(self, config: Any, folder: Path, out: Path | None = None, log: Callable[[str], None] | None = None):
        self.config = config
        self.folder = Path(folder)  # where the config's relative paths start
        self.out = Path(out) if out is not None else RUNS / self.name
        self.cache = RunCache(self.out / "points")
        self._start = time.perf_counter()
        self._log = log

    @classmethod
    def default_config(cls) -> Path:
        """The study's own config, ``studies/<name>/config.yaml``."""
        return STUDIES / cls.name / "config.yaml"

    def log(self, line: str) -> None:
        """A progress line on stderr, stamped with the seconds since the study started."""
        if self._log is not None:
            self._log(line)
        else:
            print(f"[{time.perf_counter() - self._start:7.0f} s] {line}", file=sys.stderr, flush=True)

    def path(self, relative: str | Path) -> Path:
        """A path of the config, relative to the config's folder unless absolute."""
        path = Path(relative)
        return path if path.is_absolute() else self.folder / path

    def prepare(self) -> None:  # noqa: B027 (optional: most studies share no work between points)
        """Work every point shares (held-out sets), done once before the points."""

    @abstractmethod
    def points(self) -> dict[str, Point]:
        """The study's points by name, in report order."""

    @abstractmethod
    def compute(self, point: Point, folder: Path) -> dict[str, Any]:
        """Compute one point into ``folder``; its result as plain JSON data."""

    @abstractmethod
    def report(self, results: dict[str, dict[str, Any]]) -> Report:
        """The report of the points' results (those computed now and those cached)."""

    def plots(self, report: Report, out: Path) -> None:  # noqa: B027 (optional: a study may have no plot)
        """Pictures of the report, written into ``out`` (none by default)."""

    def run(self, only: Sequence[str] | None = None, command: str = "") -> Report:
        """Compute the points (only those in ``only`` when given; the others are reported when cached),
        then write ``results.json``, ``results.md`` and the plots into ``out``."""
        points = self.points()
        unknown = [name for name in only or () if name not in points]
        if unknown:
            raise ConfigError(f"--only {unknown[0]!r} is not a point of this study; points: {', '.join(points)}")
        self.prepare()
        results: dict[str, dict[str, Any]] = {}
        for name, point in points.items():
            if only and name not in only:
                cached = self.cache.cached(name, point.settings)
                if cached is not None:
                    results[name] = cached
                continue
            start = time.perf_counter()
            results[name], fresh = self.cache.run(name, point.settings, lambda folder, p=point: self.compute(p, folder))
            took = f"computed in {time.perf_counter() - start:.0f} s" if fresh else "cached"
            self.log(f"{name}: {took} ({self.cache.folder(name, point.settings)})")
        report = self.report(results)
        write_report(report, self.out, command or f"python -m studies.{self.name}")
        self.plots(report, self.out)
        self.log(f"wrote {self.out / 'results.md'}")
        return report
