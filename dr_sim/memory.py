"""Memory estimates of what a config allocates, checked against a limit before anything is allocated.

A randomization config can ask for far more memory than a machine has: a texture pool of 100,000
textures of 1024 px passes validation and would take over a terabyte. The commands estimate every large
allocation a config implies (``randomization_estimate``: the texture pools and the distractor bank; the
render buffers; ``dr-sim generate`` adds a shard of images, ``dr_sim.datasets.shards``) from constants
measured once (below), report it, and refuse with one ``ConfigError`` when the estimate of one process
exceeds the limit. ``TexturePool`` checks its own estimate too, before it generates any texture.

The limit is ``DEFAULT_LIMIT_MB`` (2048 MiB) per process; set the environment variable
``DR_SIM_MEMORY_LIMIT_MB`` to raise (or lower) it. The estimate counts what the config adds, not the
Python interpreter and the simulator themselves (about 150 MiB).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dr_sim.config.schema import DistractorConfig, DRConfig, TextureConfig
from dr_sim.errors import ConfigError
from dr_sim.image_files import list_images

LIMIT_ENV = "DR_SIM_MEMORY_LIMIT_MB"
DEFAULT_LIMIT_MB = 2048
MIB = 2**20
#: Bytes per pixel of one rendered image: the renderer's RGBA, depth and segmentation buffers and their
#: numpy copies. Measured: peak resident memory of ``dr-sim generate`` of 4 images at 64 px (123 MiB),
#: 512 px (152 MiB) and 1024 px (247 MiB), less the shard (``SHARD_BYTES_PER_PIXEL``): about 24 bytes.
RENDER_BYTES_PER_PIXEL = 32
#: Resident memory of one loaded texture: ``TEXTURE_FACTOR`` x its RGBA bytes (resolution^2 x 4) plus
#: ``TEXTURE_FIXED_BYTES``. Measured once: the resident-memory growth of building a ``TexturePool`` of 200
#: textures (100 at 512 px) on a fresh DIRECT client, per texture: 16 px 12 KB, 32 px 19 KB, 64 px 47 KB,
#: 128 px 157 KB (flat) to 197 KB (noise), 256 px 607 KB, 512 px 2.4 MB; that is 2.3 to 3.0 x the RGBA
#: bytes (PyBullet keeps the decoded image and the renderer's copy) plus a few KB. The constants bound
#: every measurement from above.
TEXTURE_FACTOR = 3.0
TEXTURE_FIXED_BYTES = 16 * 1024
#: Resident memory of one distractor bank item. Measured once: the resident-memory growth of building the
#: bank (``DistractorRandomizer._build_bank``) on a fresh DIRECT client, per body: 24 KB (128 primitives) to
#: 42 KB (32), and 310 KB (128 meshes of ``random_urdfs``) to 313 KB (32); the constants bound them from above.
PRIMITIVE_BYTES = 64 * 1024
MESH_BYTES = 512 * 1024


@dataclass(frozen=True)
class Estimate:
    """Bytes a process will allocate, as named parts (``("texture pool 100 x 64 px", 5_000_000)``)."""

    parts: tuple[tuple[str, int], ...] = ()

    @property
    def total(self) -> int:
        return sum(size for _, size in self.parts)

    def __add__(self, other: Estimate) -> Estimate:
        return Estimate(self.parts + other.parts)

    def times(self, count: int, what: str) -> Estimate:
        """This estimate ``count`` times over (``count`` envs in one process), parts renamed ``what: part``."""
        return Estimate(tuple((f"{what}: {name}", size * count) for name, size in self.parts if count))

    def describe(self) -> str:
        """``1,234 MiB (texture pool 8000 x 128 px: 1,200 MiB, ...) of the 2,048 MiB limit``."""
        parts = ", ".join(f"{name}: {mib(size)}" for name, size in self.parts if size)
        return f"{mib(self.total)}{f' ({parts})' if parts else ''} of the {mib(limit_bytes())} limit"


def mib(size: float) -> str:
    """Bytes as ``12.3 MiB`` (``1,234 MiB`` from 100 MiB on)."""
    value = size / MIB
    return f"{value:,.0f} MiB" if value >= 100 else f"{value:.1f} MiB"


def limit_bytes() -> int:
    """The limit of one process: ``DR_SIM_MEMORY_LIMIT_MB`` MiB when set, else ``DEFAULT_LIMIT_MB``."""
    text = os.environ.get(LIMIT_ENV, "").strip()
    if not text:
        return DEFAULT_LIMIT_MB * MIB
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ConfigError(f"{LIMIT_ENV} must be a positive number of MiB, got {text!r}")
    return int(value * MIB)


def check_memory(estimate: Estimate, what: str) -> Estimate:
    """``estimate`` when it fits the limit; else one ``ConfigError`` naming it, the limit and the way out."""
    limit = limit_bytes()
    if estimate.total > limit:
        largest = sorted(estimate.parts, key=lambda part: -part[1])[:3]
        parts = ", ".join(f"{name}: {mib(size)}" for name, size in largest if size)
        raise ConfigError(
            f"{what} would need an estimated {mib(estimate.total)} of memory ({parts}), above the limit of "
            f"{mib(limit)}; make the config smaller, or raise the limit with the environment variable "
            f"{LIMIT_ENV}={-(-estimate.total // MIB) + 1}"
        )
    return estimate


def pool_size(config: TextureConfig) -> int:
    """Textures a pool of ``config`` loads: the procedural ones, every image of its folders and a white one."""
    folders = sum(len(list_images(Path(folder).expanduser())) for folder in config.folders)
    return config.pool_size + folders + 1


def pool_bytes(config: TextureConfig) -> int:
    """Estimated resident memory (bytes) of a texture pool of ``config`` (see ``TEXTURE_FACTOR``)."""
    one = TEXTURE_FACTOR * config.resolution * config.resolution * 4 + TEXTURE_FIXED_BYTES
    return int(pool_size(config) * one)


def bank_bytes(config: DistractorConfig) -> int:
    """Estimated resident memory (bytes) of a distractor bank of ``config``: ``2 * max_count`` bodies cycling
    through ``kinds`` (its textures are a texture pool, estimated apart)."""
    kinds = [config.kinds[i % len(config.kinds)] for i in range(2 * config.max_count)]
    return sum(PRIMITIVE_BYTES if kind == "primitive" else MESH_BYTES for kind in kinds)


def texture_estimate(configs: Iterable[TextureConfig]) -> Estimate:
    """The texture pools of these configs (one per distinct config: pools are shared, ``TexturePool.shared``)."""
    distinct = {config.model_dump_json(): config for config in configs}
    return Estimate(
        tuple(
            (f"texture pool {pool_size(config)} x {config.resolution} px", pool_bytes(config))
            for config in distinct.values()
        )
    )


def randomization_estimate(config: DRConfig) -> Estimate:
    """What one env with ``config`` allocates: its texture pools and its distractor bank."""
    textures = [entry.textures for entry in config.appearance if entry.textures is not None]
    bank = Estimate()
    if config.distractors is not None:
        if config.distractors.textures is not None:
            textures.append(config.distractors.textures)
        bodies = 2 * config.distractors.max_count
        bank = Estimate(((f"distractor bank of {bodies} bodies", bank_bytes(config.distractors)),))
    return texture_estimate(textures) + bank


def render_estimate(width: int, height: int | None = None) -> Estimate:
    """The buffers of rendering one image of ``width`` x ``height`` px (square by default)."""
    height = width if height is None else height
    return Estimate(((f"render buffers {width} x {height} px", width * height * RENDER_BYTES_PER_PIXEL),))
