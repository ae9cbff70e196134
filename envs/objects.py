"""Objects that tasks place on the table: a cube and a puck, built from primitive shapes.

Sizes in metres, masses in kilograms; a body rests on the table when its centre is at half its height.
"""

from __future__ import annotations

from dataclasses import dataclass

import pybullet as p
from pybullet_utils.bullet_client import BulletClient

OBJECT_COLOR = (0.85, 0.2, 0.15, 1.0)  # the nominal object: red


@dataclass(frozen=True)
class ObjectSpec:
    """``shape``: ``cube`` (``size`` = edge) or ``puck`` (``size`` = diameter, ``height`` = thickness)."""

    shape: str
    size: float
    height: float
    mass: float
    lateral_friction: float = 0.5


CUBE = ObjectSpec("cube", size=0.04, height=0.04, mass=0.1)
PUCK = ObjectSpec("puck", size=0.06, height=0.03, mass=0.2)
OBJECTS = {"cube": CUBE, "puck": PUCK}


def add_goal_marker(client: BulletClient, radius: float = 0.02) -> int:
    """A translucent green sphere without collision, showing a goal (``radius`` m); returns its body id."""
    shape = client.createVisualShape(p.GEOM_SPHERE, radius=radius, rgbaColor=[0.1, 0.9, 0.1, 0.5])
    return int(client.createMultiBody(0.0, -1, shape, [0.0, 0.0, 0.1]))


def add_object(client: BulletClient, spec: ObjectSpec, color: tuple[float, ...] = OBJECT_COLOR) -> int:
    """Create the object at rest on the table at the origin; returns its body id."""
    if spec.shape == "cube":
        half = [spec.size / 2] * 3
        collision = client.createCollisionShape(p.GEOM_BOX, halfExtents=half)
        visual = client.createVisualShape(p.GEOM_BOX, halfExtents=half, rgbaColor=list(color))
    else:
        collision = client.createCollisionShape(p.GEOM_CYLINDER, radius=spec.size / 2, height=spec.height)
        visual = client.createVisualShape(
            p.GEOM_CYLINDER, radius=spec.size / 2, length=spec.height, rgbaColor=list(color)
        )
    body = int(client.createMultiBody(spec.mass, collision, visual, [0.0, 0.0, spec.height / 2]))
    client.changeDynamics(body, -1, lateralFriction=spec.lateral_friction)
    return body
