"""Horizontal support surfaces: where objects stand upright.

A surface is a rectangle (centre, half extents, yaw; m, rad) at a height (m, world z). Fixed surfaces
come from the config: the top of a scene body, its height found by rays cast straight down onto the
body (exact, where an AABB carries a collision margin), or a plane at a given height. The top of a
placed box or cylinder is a surface too (``stacked``). On a fixed surface an object stands wholly inside
the rectangle; on a stacked one its centre stands over the support's top.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pybullet as p

from dr_sim.config.schema import STACKED, SurfaceSpec
from dr_sim.errors import ConfigError
from dr_sim.structure.boxes import UprightBox

_RAYS = 5  # rays per side of the grid cast onto a body's top
_RAY_REACH = 1.0  # m above and below the body's AABB that the rays span
#: Share of a support's top that carries a stacked object's centre, by distractor kind: a box's whole
#: top, a cylinder's inscribed square; other kinds have no flat top.
STACK_TOPS = {"box": 1.0, "cylinder": 1 / math.sqrt(2)}


@dataclass(frozen=True)
class Surface:
    """A horizontal rectangle: ``height`` (m, world z), ``center`` (2,) and ``half`` (2,) m, ``yaw`` rad.

    ``whole``: objects stand wholly inside it (fixed surfaces), else only their centre must (a stacked
    object on a support's top). ``slab``: the supporting body's box, which hides what lies below it.
    """

    name: str
    height: float
    center: np.ndarray
    half: np.ndarray
    yaw: float = 0.0
    whole: bool = True
    slab: UprightBox | None = None

    def _local(self, points: np.ndarray) -> np.ndarray:
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        return (np.asarray(points) - self.center) @ np.array([[c, -s], [s, c]])

    def point(self, rng: np.random.Generator) -> np.ndarray:
        """A uniform x-y point (m, world) of the rectangle."""
        local = rng.uniform(-self.half, self.half)
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        return self.center + np.array([[c, -s], [s, c]]) @ local

    def holds(self, box: UprightBox) -> bool:
        """Whether ``box`` stands on this surface: its footprint (``whole``) or centre inside the rectangle."""
        points = box.footprint() if self.whole else box.center[None, :2]
        return bool(np.all(np.abs(self._local(points)) <= self.half + 1e-9))

    @property
    def area(self) -> float:
        return float(4 * self.half[0] * self.half[1])


def fixed_surface(client_id: int, name: str, spec: SurfaceSpec, body: int | None) -> Surface:
    """The surface ``name`` of the config on a bound scene (``body``: the id of ``spec.body``)."""
    if body is None:
        assert spec.height is not None
        assert spec.region_low is not None
        assert spec.region_high is not None
        return _rectangle(name, spec.height, spec.region_low, spec.region_high, None)
    low, high = (np.asarray(corner, dtype=np.float64) for corner in p.getAABB(body, physicsClientId=client_id))
    region_low = np.asarray(spec.region_low) if spec.region_low is not None else low[:2] + spec.margin
    region_high = np.asarray(spec.region_high) if spec.region_high is not None else high[:2] - spec.margin
    if np.any(region_low > region_high):
        raise ConfigError(
            f"structure.surfaces.{name}: the top of body {spec.body!r} ({(high - low)[:2].round(3).tolist()} m) is "
            f"narrower than twice its margin ({spec.margin} m)"
        )
    height = _top_height(client_id, body, region_low, region_high, low[2], high[2])
    if height is None:
        raise ConfigError(
            f"structure.surfaces.{name}: no ray cast down onto body {spec.body!r} inside its region "
            f"{region_low.tolist()}..{region_high.tolist()} hits it; give a region over its top"
        )
    # The body below its top (a table's top slab): what hides objects beneath it from the camera.
    slab_low, slab_high = low.copy(), np.append(high[:2], height)
    slab = UprightBox((slab_low + slab_high) / 2, (slab_high - slab_low) / 2, 0.0)
    return _rectangle(name, height, region_low, region_high, slab)


def _rectangle(
    name: str, height: float, low: np.ndarray | list[float], high: np.ndarray | list[float], slab: UprightBox | None
) -> Surface:
    low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    return Surface(name, float(height), (low + high) / 2, (high - low) / 2, slab=slab)


def _top_height(
    client_id: int, body: int, low: np.ndarray, high: np.ndarray, bottom: float, top: float
) -> float | None:
    """The highest point (m) where rays cast straight down on a grid over [low, high] hit ``body``."""
    xs, ys = (np.linspace(lo, hi, _RAYS) for lo, hi in zip(low, high, strict=True))
    starts = [[x, y, top + _RAY_REACH] for x in xs for y in ys]
    ends = [[x, y, bottom - _RAY_REACH] for x in xs for y in ys]
    hits = [hit[3][2] for hit in p.rayTestBatch(starts, ends, physicsClientId=client_id) if hit[0] == body]
    return float(max(hits)) if hits else None


def stacked_surface(support: UprightBox, share: float) -> Surface:
    """The top of a placed ``support`` as a surface; ``share`` of its footprint carries stacked centres."""
    return Surface(STACKED, support.top, support.center[:2], support.half[:2] * share, support.yaw, whole=False)
