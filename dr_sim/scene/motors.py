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

    def _control_one(self, bodyUniqueId: int, jointIndex: int, controlMode: int, **kwargs: Any) -> None:
        if self._selected(bodyUniqueId, jointIndex):
            self._scale(controlMode, kwargs, single=True)
        p.setJointMotorControl2(bodyUniqueId, jointIndex, controlMode, physicsClientId=self.client._client, **kwargs)

    def _control_array(self, bodyUniqueId: int, jointIndices: Any, controlMode: int, **kwargs: Any) -> None:
        indices = list(jointIndices)
        if any(self._selected(bodyUniqueId, j) for j in indices):
            self._scale(controlMode, kwargs, single=False, count=len(indices))
        p.setJointMotorControlArray(bodyUniqueId, indices, controlMode, physicsClientId=self.client._client, **kwargs)

    def _scale(self, mode: int, kwargs: dict[str, Any], single: bool, count: int = 1) -> None:
        force_key = "force" if single else "forces"
        if self.force_scale != 1.0 and force_key in kwargs:
            forces = kwargs[force_key]
            kwargs[force_key] = forces * self.force_scale if single else [f * self.force_scale for f in forces]
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
                kwargs[name] = [g * self.gain_scale for g in kwargs.get(name, [default] * count)]
