"""An episode's sampled randomization parameters (``info["randomization"]``) as a flat record.

The preview's histograms and the RL training's TensorBoard scalars both read parameters by flat key,
``section.name.target[.index]`` (``physics.mass.panda/link3``, ``physics.inertia.panda/link1.0``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def flatten_params(params: Mapping[str, Any], prefix: str = "", *, indices: bool = True) -> dict[str, float]:
    """Flatten ``info['randomization']`` into ``{'section.name.target[.index]': value}``.

    Values keep the unit each parameter is sampled in (kg, m, N, ...). Only numbers are kept (booleans,
    strings and ``step_seed`` are not sampled parameters); vectors and lists are flattened by index, so
    ``physics.inertia.panda/link1.0`` is an x component. With ``indices=False`` integers (categorical
    picks such as texture pool or distractor bank indices) are left out too. ``prefix`` (if given)
    starts every key.
    """
    flat: dict[str, float] = {}

    def visit(value: Any, key: str) -> None:
        if isinstance(value, Mapping):
            for name, item in value.items():
                visit(item, f"{key}.{name}" if key else str(name))
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                visit(item, f"{key}.{index}")
        elif isinstance(value, bool | np.bool_):
            return
        elif isinstance(value, float | np.floating) or (indices and isinstance(value, int | np.integer)):
            flat[key] = float(value)

    for section, value in params.items():
        if not prefix and section == "step_seed":
            continue
        visit(value, f"{prefix}.{section}" if prefix else str(section))
    return flat
