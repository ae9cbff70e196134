"""A thin handle on one PyBullet client: bodies, links and joints by name, and nominal values.

Qualified names are ``"body/link"`` and ``"body/joint"``; the base link of a body is named after the
URDF's base link (``getBodyInfo``). Bodies are named from a mapping the env provides (panda-gym's
``sim._bodies_idx``), else from the URDF robot name, else ``body<id>``; duplicates get ``_<id>``.

Ids change when the simulation is reset or bodies are re-created: ``signature()`` tells the owner
when to ``rebind()``, which re-reads every name and forgets the nominal snapshot. A body that is
re-created with the same id and name (an env that calls ``resetSimulation`` and loads the same URDFs
on every reset) is told apart by a mark: ``mark()`` attaches user data to every body, and a new body
has none.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pybullet as p

from dr_sim.errors import SceneError
from dr_sim.scene.camera import Camera

_DEFAULT_DAMPING = 0.04  # PyBullet's default linear and angular damping of a link
_MARK = "dr_sim.bound"  # the user data key that rebind() attaches to every body it reads


@dataclass(frozen=True)
class LinkRef:
    """A link of a body; ``index`` is -1 for the base."""

    body: int
    index: int
    name: str


@dataclass(frozen=True)
class JointRef:
    """A movable joint of a body (revolute or prismatic)."""

    body: int
    index: int
    name: str


class Scene:
    """Names, selectors and a nominal snapshot for the bodies of one PyBullet client."""

    def __init__(self, client_id: int, body_names: Mapping[str, int] | None = None) -> None:
        if not p.isConnected(client_id):
            raise SceneError(f"PyBullet client {client_id} is not connected")
        self.client_id = client_id
        # Kept by reference: an env that re-creates bodies updates its own mapping, and rebind reads it.
        self._given_names: Mapping[str, int] = body_names if body_names is not None else {}
        self.bodies: dict[str, int] = {}
        self.links: dict[str, LinkRef] = {}
        self.joints: dict[str, JointRef] = {}
        self._nominal: dict[tuple[str, str], Any] = {}
        self._hidden: set[int] = set()
        self._read: tuple[tuple[int, str, int], ...] = ()  # the bodies as ``rebind`` last read them
        #: Cameras by name, rendered with ``light`` (``getCameraImage`` light arguments).
        self.cameras: dict[str, Camera] = {}
        self.light: dict[str, Any] = {}
        self.rebind()

    # -- naming -------------------------------------------------------------------------------
    def rebind(self, body_names: Mapping[str, int] | None = None) -> None:
        """Re-read every body, link and joint, and forget the nominal snapshot."""
        if body_names is not None:
            self._given_names = body_names
        cid = self.client_id
        ids = [p.getBodyUniqueId(i, physicsClientId=cid) for i in range(p.getNumBodies(physicsClientId=cid))]
        given = {body_id: name for name, body_id in self._given_names.items() if body_id in ids}
        self.bodies, self.links, self.joints = {}, {}, {}
        for body_id in ids:
            if body_id in self._hidden:
                continue
            base_name, robot_name = (s.decode() for s in p.getBodyInfo(body_id, physicsClientId=cid))
            name = given.get(body_id) or robot_name.removesuffix(".urdf") or f"body{body_id}"
            if name in self.bodies:
                name = f"{name}_{body_id}"
            self.bodies[name] = body_id
            self.links[f"{name}/{base_name or 'base'}"] = LinkRef(body_id, -1, f"{name}/{base_name or 'base'}")
            for j in range(p.getNumJoints(body_id, physicsClientId=cid)):
                info = p.getJointInfo(body_id, j, physicsClientId=cid)
                link_name = f"{name}/{info[12].decode()}"
                self.links[link_name] = LinkRef(body_id, j, link_name)
                if info[2] in (p.JOINT_REVOLUTE, p.JOINT_PRISMATIC):
                    joint_name = f"{name}/{info[1].decode()}"
                    self.joints[joint_name] = JointRef(body_id, j, joint_name)
        self._nominal.clear()
        self._read = tuple(entry[:3] for entry in self.signature())

    def stale(self) -> bool:
        """Whether bodies were added, removed or re-numbered since ``rebind`` read them (an env that builds
        its world in its first ``reset()``, after the scene was made)."""
        return tuple(entry[:3] for entry in self.signature()) != self._read

    def hide_bodies(self, body_ids: set[int]) -> None:
        """Leave these bodies (dr_sim's own distractors) out of names and selectors."""
        self._hidden |= body_ids
        self.rebind()

    def mark(self) -> None:
        """Attach the mark to every body that lacks it (see the module docstring)."""
        cid = self.client_id
        for i in range(p.getNumBodies(physicsClientId=cid)):
            body_id = p.getBodyUniqueId(i, physicsClientId=cid)
            if not _marked(cid, body_id):
                p.addUserData(body_id, _MARK, "1", physicsClientId=cid)

    def signature(self) -> tuple[tuple[int, str, int, bool], ...]:
        """Id, name, joint count and mark (see the module docstring) of every body: it changes when
        bodies are re-created, even with the same ids and names."""
        cid = self.client_id
        result = []
        for i in range(p.getNumBodies(physicsClientId=cid)):
            body_id = p.getBodyUniqueId(i, physicsClientId=cid)
            name = p.getBodyInfo(body_id, physicsClientId=cid)[1].decode()
            result.append((body_id, name, p.getNumJoints(body_id, physicsClientId=cid), _marked(cid, body_id)))
        return tuple(result)

    def select_links(self, patterns: list[str]) -> list[LinkRef]:
        return [self.links[name] for name in _match(patterns, self.links, "link")]

    def select_joints(self, patterns: list[str]) -> list[JointRef]:
        return [self.joints[name] for name in _match(patterns, self.joints, "joint")]

    def body(self, name: str) -> int:
        """The id of a body by name, or a ``SceneError`` that lists the names."""
        if name not in self.bodies:
            raise SceneError(f"no body named {name!r}; bodies are: {', '.join(self.bodies) or '(none)'}")
        return self.bodies[name]

    # -- nominal snapshot ---------------------------------------------------------------------
    def nominal(self, key: str, target: str, read: Callable[[], Any]) -> Any:
        """The value of ``key`` on ``target`` as it was when first asked after the last rebind."""
        slot = (key, target)
        if slot not in self._nominal:
            self._nominal[slot] = read()
        return self._nominal[slot]

    def snapshot(self) -> dict[tuple[str, str], Any]:
        """A copy of the nominal values read since the last rebind: (key, target) -> value."""
        return dict(self._nominal)

    # -- readers and writers used by randomizers ----------------------------------------------
    def dynamics(self, link: LinkRef) -> dict[str, Any]:
        """``getDynamicsInfo`` as a dict (kg, kg m^2, N/m, N s/m).

        PyBullet does not report linear and angular damping; they read as its defaults (0.04).
        """
        info = p.getDynamicsInfo(link.body, link.index, physicsClientId=self.client_id)
        return {
            "mass": info[0],
            "lateral_friction": info[1],
            "inertia": np.asarray(info[2], dtype=np.float64),
            "restitution": info[5],
            "rolling_friction": info[6],
            "spinning_friction": info[7],
            "contact_damping": info[8],
            "contact_stiffness": info[9],
            "linear_damping": _DEFAULT_DAMPING,
            "angular_damping": _DEFAULT_DAMPING,
        }

    def gravity(self) -> np.ndarray:
        """Current gravity (m/s^2)."""
        params = p.getPhysicsEngineParameters(physicsClientId=self.client_id)
        return np.array([params[f"gravityAcceleration{axis}"] for axis in "XYZ"], dtype=np.float64)

    def visual_colors(self, link: LinkRef) -> list[tuple[int, np.ndarray, int]]:
        """(shape index, RGBA color, texture id) of every visual shape of a link."""
        shapes = p.getVisualShapeData(
            link.body, flags=p.VISUAL_SHAPE_DATA_TEXTURE_UNIQUE_IDS, physicsClientId=self.client_id
        )
        ours = [s for s in shapes if s[1] == link.index]
        return [(i, np.asarray(s[7], dtype=np.float64), s[8]) for i, s in enumerate(ours)]


def changed_targets(
    before: Mapping[tuple[str, str], Any], after: Mapping[tuple[str, str], Any], keys: Collection[str]
) -> set[str]:
    """The targets (``body/link``, ``body/joint``) whose numeric value of one of ``keys`` differs between
    two snapshots (to a relative 1e-9)."""
    return {
        target
        for (key, target), value in before.items()
        if key in keys and (key, target) in after and not np.allclose(value, after[key, target], rtol=1e-9, atol=0.0)
    }


def _match(patterns: list[str], names: Mapping[str, Any], kind: str) -> list[str]:
    matched = [n for n in names if any(fnmatch.fnmatchcase(n, pattern) for pattern in patterns)]
    if not matched:
        shown = ", ".join(list(names)[:40]) + (" ..." if len(names) > 40 else "")
        raise SceneError(f"selector {patterns!r} matches no {kind}; {kind}s are: {shown or '(none)'}")
    return matched


def _marked(client_id: int, body_id: int) -> bool:
    """Whether the body carries the mark that ``Scene.mark`` attaches."""
    return p.getUserDataId(body_id, _MARK, physicsClientId=client_id) >= 0
