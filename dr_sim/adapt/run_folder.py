"""What every ``dr-sim adapt train`` run folder shares, whatever the method: its file names, the
checkpoint's format mark and the examples picture."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dr_sim.file_io import make_contact_sheet

MODEL_FILE = "model.pt"
METRICS_FILE = "metrics.json"
EXAMPLES_FILE = "examples.png"
FORMAT = "dr_sim.adapt/1"  # marks a translator checkpoint
EXAMPLES = 8  # columns of the examples picture
MIN_TILE = 128  # px: smaller images are enlarged (nearest neighbour) in the picture


def sheet(rows: Sequence[np.ndarray]) -> np.ndarray:
    """A picture of image rows: each of ``rows`` (k, H, W, 3) uint8 one row, tiles enlarged to at least
    ``MIN_TILE`` px (nearest neighbour)."""
    columns = max(len(row) for row in rows)
    scale = max(1, -(-MIN_TILE // rows[0].shape[1]))
    blank = np.zeros_like(rows[0][0])
    tiles = [tile for row in rows for tile in [*row, *[blank] * (columns - len(row))]]
    return make_contact_sheet([tile.repeat(scale, axis=0).repeat(scale, axis=1) for tile in tiles], columns)
