"""Physics: link dynamics, joint damping and friction, and gravity (SI units throughout)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pybullet as p

from dr_sim.config.schema import LinkTerms, PhysicsConfig
from dr_sim.errors import ConfigError
from dr_sim.randomizers.base import Params, Randomizer, Term, add_terms, resolve
from dr_sim.scene.scene import JointRef, LinkRef, Scene

LINK_FIELDS = [name for name in LinkTerms.model_fields if name not in ("select", "required")]
JOINT_FIELDS = ["damping", "friction"]

# Our name -> keyword of ``changeDynamics``.
_DYNAMICS_KEYWORDS = {
    "mass": "mass",
    "inertia": "localInertiaDiagonal",
    "lateral_friction": "lateralFriction",
    "spinning_friction": "spinningFriction",
    "rolling_friction": "rollingFriction",
    "restitution": "restitution",
    "linear_damping": "linearDamping",
    "angular_damping": "angularDamping",
}
_CONTACT = ("contact_stiffness", "contact_damping")


class PhysicsRandomizer(Randomizer):
    """Masses, inertia, frictions, restitution, damping, contact stiffness/damping, gravity.

    Joint friction is a velocity motor with target 0 whose force limit is the friction torque (N m),
    PyBullet's way of modelling dry joint friction: it acts on joints that the env does not drive with
    position or velocity motors (torque-controlled or passive joints).
    """

    section = "physics"

    def __init__(self, config: PhysicsConfig) -> None:
        super().__init__()
        self.config = config
        self._links: dict[str, LinkRef] = {}
        self._joints: dict[str, JointRef] = {}

    def bind(self, scene: Scene) -> None:
        self.terms = []
        if self.config.gravity is not None:
            nominal = scene.nominal("gravity", "world", scene.gravity)
            self.terms.append(Term("gravity", self.config.gravity, {"world": nominal}))
        for i, entry in enumerate(self.config.links):
            where = f"physics.links[{i}]"
            links = resolve(scene.select_links, entry.select, entry.required, where)
            if not links:  # an optional selector that matched nothing adds no (empty) terms
                continue
            self._links.update({link.name: link for link in links})
            targets = {link.name: link for link in links}
            add_terms(self.terms, entry, LINK_FIELDS, targets, lambda f, link: self._link_nominal(scene, f, link))
            self._check_contact_pairs(entry, links, scene, where)
        for i, entry in enumerate(self.config.joints):
            joints = resolve(scene.select_joints, entry.select, entry.required, f"physics.joints[{i}]")
            if not joints:
                continue
            self._joints.update({joint.name: joint for joint in joints})
            targets = {joint.name: joint for joint in joints}
            add_terms(self.terms, entry, JOINT_FIELDS, targets, lambda f, j: self._joint_nominal(scene, f, j))

    @staticmethod
    def _link_nominal(scene: Scene, field: str, link: LinkRef) -> Any:
        return scene.nominal(field, link.name, lambda: scene.dynamics(link)[field])

    @staticmethod
    def _joint_nominal(scene: Scene, field: str, joint: JointRef) -> float:
        def read() -> float:
            info = p.getJointInfo(joint.body, joint.index, physicsClientId=scene.client_id)
            return info[6] if field == "damping" else info[7]

        return scene.nominal(f"joint_{field}", joint.name, read)

    def _check_contact_pairs(self, entry: LinkTerms, links: list[LinkRef], scene: Scene, where: str) -> None:
        configured = [f for f in _CONTACT if getattr(entry, f) is not None]
        if len(configured) != 1:
            return
        missing = next(f for f in _CONTACT if f not in configured)
        for link in links:
            if self._link_nominal(scene, missing, link) < 0:
                raise ConfigError(
                    f"{where}: {configured[0]} needs {missing} too: link {link.name!r} has no nominal "
                    f"{missing} (PyBullet sets both together)"
                )

    def apply(self, scene: Scene, params: Params) -> None:
        cid = scene.client_id
        if "gravity" in params:
            p.setGravity(*params["gravity"]["world"], physicsClientId=cid)
        for field, keyword in _DYNAMICS_KEYWORDS.items():
            for name, value in params.get(field, {}).items():
                link = self._links[name]
                value = np.maximum(value, 0.0).tolist()  # every dynamics quantity is non-negative
                kwargs: dict[str, Any] = {keyword: value}
                if field == "mass":  # PyBullet rescales or recomputes the inertia with the mass: keep it
                    kwargs["localInertiaDiagonal"] = scene.dynamics(link)["inertia"].tolist()
                p.changeDynamics(link.body, link.index, **kwargs, physicsClientId=cid)
        self._apply_contact(scene, params)
        for name, value in params.get("damping", {}).items():
            joint = self._joints[name]
            p.changeDynamics(joint.body, joint.index, jointDamping=value, physicsClientId=cid)
        for name, value in params.get("friction", {}).items():
            joint = self._joints[name]
            p.setJointMotorControl2(
                joint.body,
                joint.index,
                p.VELOCITY_CONTROL,
                targetVelocity=0.0,
                force=max(value, 0.0),
                physicsClientId=cid,
            )

    def neutral(self, scene: Scene) -> None:
        """Write the nominal dynamics back (joint friction, a motor, is left to the env's own commands)."""
        self.apply(scene, {name: values for name, values in self.nominal_params().items() if name != "friction"})

    def changed_since(self, scene: Scene, applied: Params) -> set[str]:
        """Links whose mass, frictions or restitution differ from ``applied`` (joint damping cannot be read
        back: ``getJointInfo`` keeps reporting the model's value after ``changeDynamics``)."""
        return {
            name
            for field in ("mass", "lateral_friction", "spinning_friction", "rolling_friction", "restitution")
            for name, value in applied.get(field, {}).items()
            if name in self._links and not np.isclose(scene.dynamics(self._links[name])[field], max(value, 0.0))
        }

    def _apply_contact(self, scene: Scene, params: Params) -> None:
        stiffness, damping = params.get("contact_stiffness", {}), params.get("contact_damping", {})
        for name in stiffness.keys() | damping.keys():
            link = self._links[name]
            k = stiffness.get(name, self._link_nominal(scene, "contact_stiffness", link))
            d = damping.get(name, self._link_nominal(scene, "contact_damping", link))
            p.changeDynamics(
                link.body,
                link.index,
                contactStiffness=max(k, 0.0),
                contactDamping=max(d, 0.0),
                physicsClientId=scene.client_id,
            )
