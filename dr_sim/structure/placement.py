"""Placement by bounded rejection sampling: the target, then each distractor, under the structure's rules.

Rules, each named in the error when it cannot be met:

- ``fits on the surface``: an object stands upright, wholly on a fixed surface (or with its centre over
  a stacked support's top);
- ``no overlap``: its box keeps ``spacing`` (m) from every placed box;
- ``stacked``: a distractor drawn onto ``stacked`` needs a placed box or cylinder to stand on;
- ``in view``: a rule-bound object lies wholly in the camera's image;
- ``visible``: every rule-bound object keeps at least ``min_fraction`` of its silhouette visible;
- ``occludes the target``: an occluding distractor hides at least ``OCCLUDES`` of the target.

Each object gets ``attempts`` draws; when one fails them all the scene is drawn again (camera included),
up to ``scene_attempts`` times; then a ``PlacementError`` names the object and its most frequent failure.
A distractor drawn to stand near (or in front of) the target stands on the target's level, on its
surface or on a surface of ``distractors.stands_on`` at the same height; when it finds no such place
within ``context_attempts`` draws, it is placed freely instead.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dr_sim.config.schema import STACKED, DistractorPlacement, StructureConfig
from dr_sim.errors import ConfigError
from dr_sim.structure.boxes import UprightBox, overlaps
from dr_sim.structure.surfaces import Surface, stacked_surface
from dr_sim.structure.visibility import View

OCCLUDES = 0.05  # share of the target's silhouette an occluding distractor must hide

FITS, OVERLAP, STACK, IN_VIEW, VISIBLE, OCCLUDING = (
    "fits on the surface",
    "no overlap",
    "stacked",
    "in view",
    "visible",
    "occludes the target",
)
_HELP = {
    FITS: "make the objects smaller or the surfaces larger",
    OVERLAP: "show fewer or smaller distractors, give them more surface, or lower 'spacing'",
    STACK: "add fixed surfaces to distractors.stands_on, or show box and cylinder distractors to stack on",
    IN_VIEW: "aim the camera at the surfaces (structure.camera) or shrink the surfaces' regions",
    VISIBLE: "lower visibility.min_fraction or occlude_probability, or show fewer distractors",
    OCCLUDING: "widen distractors.occlude_distance or lower occlude_probability",
}


class PlacementError(ConfigError):
    """The structure's rules cannot be met for a scene."""


@dataclass(frozen=True)
class Shape:
    """A body's bounding box in its base frame (``low``, ``high``: (3,) m), measured at the identity pose."""

    low: np.ndarray
    high: np.ndarray

    def box(self, xy: np.ndarray, yaw: float, bottom: float) -> UprightBox:
        """The body's box standing upright with its base at ``xy`` (m), turned by ``yaw`` (rad), its
        lowest point at height ``bottom`` (m)."""
        c, s = math.cos(yaw), math.sin(yaw)
        offset = (self.low + self.high) / 2
        center = np.array(
            [
                xy[0] + c * offset[0] - s * offset[1],
                xy[1] + s * offset[0] + c * offset[1],
                bottom - self.low[2] + offset[2],
            ]
        )
        return UprightBox(center, (self.high - self.low) / 2, float(yaw))

    def base(self, box: UprightBox) -> np.ndarray:
        """The base position (m) that puts this body's box at ``box``."""
        c, s = math.cos(box.yaw), math.sin(box.yaw)
        offset = (self.low + self.high) / 2
        return box.center - np.array([c * offset[0] - s * offset[1], s * offset[0] + c * offset[1], offset[2]])

    @property
    def reach(self) -> float:
        """Half the diagonal of the footprint (m): the farthest the footprint reaches from its centre."""
        return float(np.hypot(*((self.high - self.low)[:2] / 2)))


@dataclass(frozen=True)
class Item:
    """An object to place: ``key`` names it in the parameters, ``stack_top`` is the share of its top that
    carries stacked objects (``None``: nothing stands on it)."""

    key: str
    shape: Shape
    stack_top: float | None = None


@dataclass(frozen=True)
class Placed:
    """A placed item: its box, the surface it stands on and, when stacked, the key of its support."""

    item: Item
    box: UprightBox
    surface: str
    support: str | None = None


@dataclass
class Arrangement:
    """The rules of one arrangement and what is placed so far."""

    config: StructureConfig
    surfaces: dict[str, Surface]
    view: View
    slabs: list[UprightBox]
    placed: list[Placed] = field(default_factory=list)

    @property
    def min_fraction(self) -> float:
        return 0.0 if self.config.visibility is None else self.config.visibility.min_fraction

    def bound(self, index: int) -> bool:
        """Whether the visibility rule binds the object placed ``index``-th (the target comes first)."""
        rule = self.config.visibility
        return rule is not None and (rule.objects == "all" or (index == 0 and self.config.target is not None))

    def fraction(self, box: UprightBox, others: list[UprightBox]) -> float:
        return self.view.visible_fraction(box, others + self.slabs)


def arrange(
    rng: np.random.Generator,
    config: StructureConfig,
    surfaces: dict[str, Surface],
    slabs: list[UprightBox],
    draw_view: Callable[[np.random.Generator], View],
    target: Item | None,
    distractors: list[Item],
) -> tuple[View, list[Placed]]:
    """Draw a camera view and place ``target`` (first) and ``distractors`` under ``config``'s rules.

    ``surfaces`` are the fixed surfaces by name, ``slabs`` the boxes of the bodies under them (they hide
    what lies below). Returns the view and every placed item, in order; a ``PlacementError`` when no
    scene of ``scene_attempts`` meets the rules.
    """
    _check_room(config, surfaces, target, distractors)
    failure: tuple[str, Counter[str]] = ("", Counter())
    for _ in range(config.scene_attempts):
        scene = Arrangement(config, surfaces, draw_view(rng), slabs)
        items = ([target] if target is not None else []) + distractors
        for item in items:
            failures = _place(rng, scene, item, is_target=item is target)
            if failures is not None:
                failure = (item.key, failures)
                break
        else:
            return scene.view, scene.placed
    key, failures = failure
    rule, count = failures.most_common(1)[0]
    raise PlacementError(
        f"structure: cannot place {key} in {config.scene_attempts} scenes of {config.attempts} draws each: the rule "
        f"'{rule}' failed {count} of {sum(failures.values())} draws ({_describe(failures)}); {_HELP[rule]}"
    )


def _describe(failures: Counter[str]) -> str:
    return ", ".join(f"{rule}: {count}" for rule, count in failures.most_common())


def _check_room(config: StructureConfig, surfaces: dict[str, Surface], target: Item | None, items: list[Item]) -> None:
    """Fail at once when the footprints of distractors that cannot stack exceed their surfaces' area."""
    if config.distractors is None or STACKED in config.distractors.stands_on or not items:
        return
    names = set(config.distractors.stands_on) | (set(config.target.stands_on) if config.target and target else set())
    room = sum(surfaces[name].area for name in names)
    spacing = config.spacing
    needed = sum(float(np.prod(item.shape.high[:2] - item.shape.low[:2] + spacing)) for item in items)
    if target is not None:
        needed += float(np.prod(target.shape.high[:2] - target.shape.low[:2] + spacing))
    if needed > room:
        raise PlacementError(
            f"structure: the rule '{OVERLAP}' cannot hold: the footprints of the {len(items)} distractors"
            f"{' and the target' if target else ''} with spacing {spacing} m cover {needed:.3f} m^2, more than "
            f"the {room:.3f} m^2 of their surfaces ({', '.join(sorted(names))}); {_HELP[OVERLAP]}"
        )


def _place(rng: np.random.Generator, scene: Arrangement, item: Item, is_target: bool) -> Counter[str] | None:
    """Place ``item`` (appended to ``scene.placed``); else its failures by rule.

    A distractor that finds no place near (or in front of) the target is placed freely: a small one
    cannot hide the target, and others may have taken the room beside it.
    """
    mode = "target" if is_target else _mode(rng, scene.config.distractors)
    failures = _try(rng, scene, item, mode)
    if failures is not None and mode in ("near", "occlude"):
        failures = _try(rng, scene, item, "free")
    return failures


def _try(rng: np.random.Generator, scene: Arrangement, item: Item, mode: str) -> Counter[str] | None:
    failures: Counter[str] = Counter()
    shown = None
    if mode == "occlude":  # the target's visible share before this distractor
        boxes = [placed.box for placed in scene.placed]
        shown = scene.fraction(boxes[0], boxes[1:])
        if not _can_occlude(scene, item, shown):
            return Counter({OCCLUDING: 1})
    draws = scene.config.context_attempts if mode in ("near", "occlude") else scene.config.attempts
    for _ in range(draws):
        drawn = _draw(rng, scene, item, mode)
        if isinstance(drawn, str):
            failures[drawn] += 1
            continue
        broken = _broken_rule(scene, Placed(item, *drawn), shown)
        if broken is None:
            scene.placed.append(Placed(item, *drawn))
            return None
        failures[broken] += 1
    return failures


def _mode(rng: np.random.Generator, placement: DistractorPlacement | None) -> str:
    """How a distractor is placed: ``near`` or ``occlude`` the target, or ``free`` on a drawn surface."""
    if placement is None:
        return "free"
    draw = rng.random()
    if draw < placement.near_probability:
        return "near"
    return "occlude" if draw < placement.near_probability + placement.occlude_probability else "free"


def _draw(
    rng: np.random.Generator, scene: Arrangement, item: Item, mode: str
) -> tuple[UprightBox, str] | tuple[UprightBox, str, str] | str:
    """One candidate pose of ``item`` as (box, surface name[, support key]), or the rule that ruled it out."""
    config = scene.config
    yaw = float(rng.uniform(-math.pi, math.pi))
    if mode == "target":
        assert config.target is not None
        surface = scene.surfaces[config.target.stands_on[int(rng.integers(len(config.target.stands_on)))]]
        xy = surface.point(rng)
    elif mode in ("near", "occlude"):
        target = scene.placed[0]
        box = _beside(rng, scene, target, item, mode, yaw)
        level = [scene.surfaces[target.surface], *_level_with(scene, target.box.bottom)]
        holding = next((surface for surface in level if surface.holds(box)), None)
        return FITS if holding is None else (box, holding.name)
    else:
        assert config.distractors is not None
        names = list(config.distractors.stands_on)
        weights = np.array([config.distractors.stands_on[name] for name in names])
        name = names[int(rng.choice(len(names), p=weights / weights.sum()))]
        if name == STACKED:
            supports = [placed for placed in scene.placed[_first_distractor(scene) :] if placed.item.stack_top]
            if not supports:
                return STACK
            support = supports[int(rng.integers(len(supports)))]
            assert support.item.stack_top is not None
            surface = stacked_surface(support.box, support.item.stack_top)
            box = item.shape.box(surface.point(rng), yaw, surface.height)
            return (box, surface.name, support.item.key) if surface.holds(box) else FITS
        surface = scene.surfaces[name]
        xy = surface.point(rng)
    box = item.shape.box(xy, yaw, surface.height)
    return (box, surface.name) if surface.holds(box) else FITS


def _can_occlude(scene: Arrangement, item: Item, shown: float) -> bool:
    """Whether ``item`` hides enough of the target at its best: square to the camera, right in front of
    it at the smallest gap (farther or to the side, a box hides less)."""
    assert scene.config.distractors is not None
    target = scene.placed[0]
    towards = _towards_camera(scene, target)
    yaw = math.atan2(towards[1], towards[0])
    distance = _clear_distance(scene, target, item, target.box.center[:2], towards, yaw)
    gap = scene.config.distractors.occlude_gap[0]
    box = item.shape.box(target.box.center[:2] + (distance + gap) * towards, yaw, target.box.bottom)
    boxes = [placed.box for placed in scene.placed[1:]]
    return scene.fraction(target.box, [*boxes, box]) <= shown - OCCLUDES


def _towards_camera(scene: Arrangement, target: Placed) -> np.ndarray:
    """The unit x-y direction from the target's centre towards the camera's eye."""
    towards = scene.view.eye[:2] - target.box.center[:2]
    return towards / max(float(np.linalg.norm(towards)), 1e-9)


def _level_with(scene: Arrangement, height: float) -> list[Surface]:
    """The distractors' fixed surfaces at ``height`` (m): where one beside the target may stand."""
    assert scene.config.distractors is not None
    names = [name for name in scene.config.distractors.stands_on if name in scene.surfaces]
    return [scene.surfaces[name] for name in names if abs(scene.surfaces[name].height - height) < 1e-6]


def _first_distractor(scene: Arrangement) -> int:
    return 1 if scene.config.target is not None else 0


def _beside(
    rng: np.random.Generator, scene: Arrangement, target: Placed, item: Item, mode: str, yaw: float
) -> UprightBox:
    """A box of ``item`` (turned by ``yaw``) on the target's level beside it: in a random direction
    (``near``) or towards the camera, a little to either side (``occlude``), as close as the boxes
    allow plus a gap drawn from ``near_gap`` or ``occlude_gap`` (m)."""
    placement = scene.config.distractors
    assert placement is not None
    if mode == "near":
        angle = rng.uniform(-math.pi, math.pi)
        direction, gap = np.array([math.cos(angle), math.sin(angle)]), rng.uniform(*placement.near_gap)
        start = target.box.center[:2]
    else:
        direction, gap = _towards_camera(scene, target), rng.uniform(*placement.occlude_gap)
        side = np.array([-direction[1], direction[0]]) * rng.uniform(-1, 1) * target.item.shape.reach
        start = target.box.center[:2] + side
    distance = _clear_distance(scene, target, item, start, direction, yaw)
    return item.shape.box(start + (distance + gap) * direction, yaw, target.box.bottom)


def _clear_distance(
    scene: Arrangement, target: Placed, item: Item, start: np.ndarray, direction: np.ndarray, yaw: float
) -> float:
    """The least distance (m, to 1 mm) along ``direction`` from ``start`` at which ``item``'s box keeps
    ``spacing`` from the target's (bisection between touching centres and bounding circles apart)."""
    low, high = 0.0, target.item.shape.reach + item.shape.reach + scene.config.spacing + 1e-3
    while high - low > 1e-3:
        middle = (low + high) / 2
        box = item.shape.box(start + middle * direction, yaw, target.box.bottom)
        if overlaps(box, target.box, scene.config.spacing):
            low = middle
        else:
            high = middle
    return high


def _broken_rule(scene: Arrangement, candidate: Placed, shown: float | None) -> str | None:
    """The first rule that ``candidate`` breaks in ``scene``, or ``None``; ``shown`` is the target's
    visible share before an occluding candidate (``None`` for any other)."""
    config = scene.config
    if any(overlaps(candidate.box, placed.box, config.spacing) for placed in scene.placed):
        return OVERLAP
    index = len(scene.placed)
    rule = config.visibility
    if scene.bound(index) and not scene.view.contains(candidate.box, rule.margin if rule else 0.0):
        return IN_VIEW
    boxes = [placed.box for placed in scene.placed] + [candidate.box]
    fractions = {k: scene.fraction(box, boxes[:k] + boxes[k + 1 :]) for k, box in enumerate(boxes) if scene.bound(k)}
    if any(fraction < scene.min_fraction for fraction in fractions.values()):
        return VISIBLE
    if shown is not None:
        after = fractions[0] if 0 in fractions else scene.fraction(boxes[0], boxes[1:])
        if after > shown - OCCLUDES:
            return OCCLUDING
    return None
