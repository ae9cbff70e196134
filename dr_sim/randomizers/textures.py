"""A texture pool, loaded into PyBullet once per client and config, then assigned by id.

``loadTexture`` allocates on every call and never frees, and ``changeTexture`` does not reach
TinyRenderer's images, so every texture an episode may use is generated (seeded by ``pool_seed``) and
loaded when the scene is built. Episodes pick pool indices and tint them with ``rgbaColor``, which
TinyRenderer multiplies into the texture. ``memory_bytes`` is the resident memory the pool added.

Before anything is generated the pool's memory is estimated (``pool_bytes``) and checked against the
limit of ``dr_sim.memory`` (one ``ConfigError`` above it; ``DR_SIM_MEMORY_LIMIT_MB`` raises it).
"""

from __future__ import annotations

import resource
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pybullet as p

from dr_sim.config.schema import TextureConfig
from dr_sim.errors import ConfigError
from dr_sim.image_files import list_images
from dr_sim.memory import Estimate, check_memory, mib, pool_bytes, pool_size
from dr_sim.user_warnings import warn

#: Pools whose estimate exceeds this are announced (a warning) before they are built: they take a while.
ANNOUNCE_BYTES = 256 * 2**20


def procedural_texture(family: str, resolution: int, rng: np.random.Generator) -> np.ndarray:
    """One RGB uint8 texture of ``family``: flat, gradient, checker, stripes or noise."""
    size = resolution
    colors = rng.integers(0, 256, size=(2, 3)).astype(np.float64)
    if family == "flat":
        image = np.broadcast_to(colors[0], (size, size, 3))
    elif family == "gradient":
        angle = rng.uniform(0, 2 * np.pi)
        ys, xs = np.mgrid[0:size, 0:size] / max(size - 1, 1)
        t = np.clip(0.5 + (xs - 0.5) * np.cos(angle) + (ys - 0.5) * np.sin(angle), 0, 1)[..., None]
        image = (1 - t) * colors[0] + t * colors[1]
    elif family == "checker":
        cells = int(rng.integers(2, 9))
        ys, xs = np.mgrid[0:size, 0:size] * cells // size
        image = np.where(((xs + ys) % 2 == 0)[..., None], colors[0], colors[1])
    elif family == "stripes":
        period = rng.uniform(size / 16, size / 2)
        angle = rng.uniform(0, np.pi)
        ys, xs = np.mgrid[0:size, 0:size]
        phase = (xs * np.cos(angle) + ys * np.sin(angle)) / period
        image = np.where((np.floor(phase) % 2 == 0)[..., None], colors[0], colors[1])
    elif family == "noise":
        cells = int(rng.integers(4, max(size // 2, 5)))
        coarse = rng.random((cells, cells, 1))
        t = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC).clip(0, 1)[..., None]
        image = (1 - t) * colors[0] + t * colors[1]
    else:
        raise ValueError(f"unknown texture family {family!r}")
    return np.ascontiguousarray(image, dtype=np.uint8)


def resident_bytes() -> int:
    """Current resident set size in bytes (Linux ``/proc``; peak RSS elsewhere)."""
    statm = Path("/proc/self/statm")
    if statm.exists():
        return int(statm.read_text().split()[1]) * resource.getpagesize()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


class TexturePool:
    """Texture ids loaded on one client. Index 0 is plain white, which ``draw`` never picks."""

    _shared: dict[tuple[int, str], TexturePool] = {}

    def __init__(self, client_id: int, config: TextureConfig) -> None:
        self.client_id = client_id
        self.config = config
        self.sources: list[str] = []
        count = pool_size(config)
        estimate = Estimate(((f"texture pool {count} x {config.resolution} px", pool_bytes(config)),))
        check_memory(estimate, f"a texture pool of {count} textures of {config.resolution} px")  # before any texture
        if estimate.total > ANNOUNCE_BYTES:
            warn(
                f"building a texture pool of {count} textures of {config.resolution} px: about {mib(estimate.total)} "
                "and a while per env"
            )
        rng = np.random.default_rng(config.pool_seed)
        before = resident_bytes()
        with tempfile.TemporaryDirectory(prefix="dr_sim_textures_") as folder:
            images = [("white", np.full((4, 4, 3), 255, np.uint8))]
            for i in range(config.pool_size):
                family = config.families[i % len(config.families)]
                images.append((family, procedural_texture(family, config.resolution, rng)))
            images += list(_folder_images(config.folders, config.resolution))
            self.ids = [self._load(Path(folder) / f"{i}.png", image) for i, (_, image) in enumerate(images)]
            self.sources = [source for source, _ in images]
        self.memory_bytes = max(resident_bytes() - before, 0)

    @classmethod
    def shared(cls, client_id: int, config: TextureConfig) -> TexturePool:
        """The pool for this client and config, loading it on first use."""
        key = (client_id, config.model_dump_json())
        if key not in cls._shared:
            cls._shared[key] = cls(client_id, config)
        return cls._shared[key]

    @classmethod
    def forget(cls, client_id: int) -> None:
        """Drop pools of a client whose simulation was reset (their ids are gone)."""
        for key in [k for k in cls._shared if k[0] == client_id]:
            del cls._shared[key]

    def _load(self, path: Path, image: np.ndarray) -> int:
        cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        return p.loadTexture(str(path), physicsClientId=self.client_id)

    def draw(self, rng: np.random.Generator) -> int:
        """A random pool index among the configured textures (never the plain white one)."""
        return 1 + int(rng.integers(len(self.ids) - 1)) if len(self.ids) > 1 else 0

    def __len__(self) -> int:
        return len(self.ids)


def _folder_images(folders: list[str], resolution: int) -> Iterator[tuple[str, np.ndarray]]:
    for folder in folders:
        for path in list_images(Path(folder).expanduser()):
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                raise ConfigError(f"textures.folders: {str(path)!r} is not a readable image")
            resized = cv2.resize(image, (resolution, resolution), interpolation=cv2.INTER_AREA)
            yield str(path), cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)
