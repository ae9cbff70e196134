"""Where a run's images come from: an existing folder, or a generator config and a count to render.

``RenderSpec`` is the config section (``path``, or ``generator`` with ``n`` and an optional ``out``);
``ensure`` hands back the folder, rendering it first (resuming a partial folder) when the spec names a
generator. Subclasses name what the folder holds (data sets of images, pairs of renders, ...).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, model_validator

from dr_sim.config.params import StrictModel

Log = Callable[[str], None]
Render = Callable[[str | dict[str, Any], int, Path], Mapping[str, Any]]


class RenderSpec(StrictModel):
    """An existing folder (``path``), or a generator config and ``n`` items to render into ``out``."""

    FOLDER: ClassVar[str] = "a data set folder"
    ITEMS: ClassVar[str] = "images"

    path: str | None = None
    generator: str | dict[str, Any] | None = None
    n: int | None = Field(default=None, gt=0)
    out: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> RenderSpec:
        if (self.path is None) == (self.generator is None):
            raise ValueError(f"give either 'path' ({self.FOLDER}) or 'generator' (a generator config) with 'n'")
        if self.generator is not None and self.n is None:
            raise ValueError(f"'generator' needs 'n', the number of {self.ITEMS} to render")
        if self.path is not None and (self.n is not None or self.out is not None):
            raise ValueError("'n' and 'out' only apply to 'generator'; a 'path' is used as it is")
        return self

    def ensure(
        self,
        default_out: Path,
        render: Render,
        describe: Callable[[Mapping[str, Any], Path, float], str],
        log: Log | None = None,
    ) -> tuple[Path, float]:
        """(folder, seconds spent rendering): ``path`` as is, else ``render(generator, n, out)`` into
        ``out`` (default ``default_out``); when it rendered anything, ``log`` gets
        ``describe(its summary, out, seconds)``."""
        if self.path is not None:
            return Path(self.path), 0.0
        assert self.generator is not None
        assert self.n is not None
        out = Path(self.out) if self.out is not None else default_out
        start = time.perf_counter()
        summary = render(self.generator, self.n, out)
        seconds = time.perf_counter() - start
        if log is not None and summary["rendered"]:
            log(describe(summary, out, seconds))
        return out, seconds
