"""Scale the gains and force limits of motor commands an env sends through a ``BulletClient``.

``BulletClient`` resolves PyBullet functions through ``__getattr__``, so an instance attribute of the
same name takes precedence: the hook installs wrappers for ``setJointMotorControl2`` and
``setJointMotorControlArray`` on that one client object and leaves the pybullet module untouched.
Gains default to PyBullet's own (position 0.1, velocity 1.0) when a command gives none; force limits
are scaled only when a command gives them (PyBullet's implicit default cannot be read back).
"""

from __future__ import annotations

from typing import Any

import pybullet as p

_DEFAULT_POSITION_GAIN = 0.1
_DEFAULT_VELOCITY_GAIN = 1.0
_NAMES = ("setJointMotorControl2", "setJointMotorControlArray")
# PyBullet's argument order, so that commands given positionally are understood too.
_ONE_ARGS = (
    "bodyUniqueId",
    "jointIndex",
    "controlMode",
    "targetPosition",
    "targetVelocity",
    "force",
    "positionGain",
    "velocityGain",
    "maxVelocity",
)
_ARRAY_ARGS = (
    "bodyUniqueId",
    "jointIndices",
    "controlMode",
    "targetPositions",
    "targetVelocities",
    "forces",
    "positionGains",
    "velocityGains",
)


class MotorHook:
    """Installed on one BulletClient; ``gain_scale`` and ``force_scale`` apply to selected joints."""

    def __init__(self, bullet_client: Any) -> None:
        self.client = bullet_client
        self.gain_scale = 1.0
        self.force_scale = 1.0
        self._joints: set[tuple[int, int]] | None = None
        self.client.setJointMotorControl2 = self._control_one
        self.client.setJointMotorControlArray = self._control_array

    def select(self, joints: set[tuple[int, int]]) -> None:
        """Limit scaling to these (body id, joint index) pairs."""
        self._joints = joints

    def remove(self) -> None:
        """Restore the client's plain PyBullet functions."""
        for name in _NAMES:
            self.client.__dict__.pop(name, None)

    def _selected(self, body: int, joint: int) -> bool:
        return self._joints is None or (body, joint) in self._joints

    def _control_one(self, *args: Any, **kwargs: Any) -> None:
        kwargs = _by_name(_ONE_ARGS, args, kwargs)
        if self._selected(kwargs["bodyUniqueId"], kwargs["jointIndex"]):
            self._scale(kwargs["controlMode"], kwargs, single=True, selected=[True])
        kwargs.setdefault("physicsClientId", self.client._client)
        p.setJointMotorControl2(**kwargs)

    def _control_array(self, *args: Any, **kwargs: Any) -> None:
        kwargs = _by_name(_ARRAY_ARGS, args, kwargs)
        indices = kwargs["jointIndices"] = list(kwargs["jointIndices"])
        selected = [self._selected(kwargs["bodyUniqueId"], j) for j in indices]
        if any(selected):
            self._scale(kwargs["controlMode"], kwargs, single=False, selected=selected)
        kwargs.setdefault("physicsClientId", self.client._client)
        p.setJointMotorControlArray(**kwargs)

    def _scale(self, mode: int, kwargs: dict[str, Any], single: bool, selected: list[bool]) -> None:
        """Scale the values of the selected joints only (an array command may mix joints)."""

        def scaled(values: Any, factor: float) -> list[float]:
            return [v * factor if s else v for v, s in zip(values, selected, strict=True)]

        force_key = "force" if single else "forces"
        if self.force_scale != 1.0 and force_key in kwargs:
            forces = kwargs[force_key]
            kwargs[force_key] = forces * self.force_scale if single else scaled(forces, self.force_scale)
        if self.gain_scale == 1.0 or mode not in (p.POSITION_CONTROL, p.VELOCITY_CONTROL):
            return
        for key, default in (
            ("positionGain", _DEFAULT_POSITION_GAIN),
            ("velocityGain", _DEFAULT_VELOCITY_GAIN),
        ):
            name = key if single else key + "s"
            if single:
                kwargs[name] = kwargs.get(name, default) * self.gain_scale
            else:
                kwargs[name] = scaled(kwargs.get(name, [default] * len(selected)), self.gain_scale)


def _by_name(names: tuple[str, ...], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments of a PyBullet call made with positional ones (and the ``bodyIndex`` alias)."""
    named = dict(zip(names, args, strict=False))
    if len(args) > len(names):
        named["physicsClientId"] = args[len(names)]
    named.update(kwargs)
    if "bodyIndex" in named:
        named["bodyUniqueId"] = named.pop("bodyIndex")
    return named
