"""Scale the gains and force limits of the motor commands an env sends to one PyBullet client.

An env on a ``BulletClient``: the client resolves PyBullet functions through ``__getattr__``, so an
instance attribute of the same name takes precedence, and the hook installs wrappers for
``setJointMotorControl2`` and ``setJointMotorControlArray`` on that one client object.
An env that calls the ``pybullet`` module itself (``p.setJointMotorControl2(...)``): the hook replaces
those two module functions with dispatchers that scale the commands for its client id (a command without
``physicsClientId`` goes to client 0, as in PyBullet) and pass every other client's commands through
unchanged; the module's own functions come back when the last such hook is removed. An env that imported
the functions by name (``from pybullet import setJointMotorControl2``) cannot be reached this way.
Gains default to PyBullet's own (position 0.1, velocity 1.0) when a command gives none; force limits
are scaled only when a command gives them (PyBullet's implicit default cannot be read back).
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import pybullet as p

_DEFAULT_POSITION_GAIN = 0.1
_DEFAULT_VELOCITY_GAIN = 1.0
_NAMES = ("setJointMotorControl2", "setJointMotorControlArray")
_MODULE_FUNCTIONS = {name: getattr(p, name) for name in _NAMES}  # PyBullet's own, before any dispatcher
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
    """Scales the motor commands sent to one client: ``gain_scale`` and ``force_scale`` apply to the
    selected joints. ``bullet_client``: the env's ``BulletClient`` when it has one, else ``None`` (the
    env calls the pybullet module; see the module docstring)."""

    def __init__(self, client_id: int, bullet_client: Any | None = None) -> None:
        self.client_id = client_id
        self.bullet_client = bullet_client
        self.gain_scale = 1.0
        self.force_scale = 1.0
        self._joints: set[tuple[int, int]] | None = None
        # The newest hook of a client wins (an env wrapped again, e.g. a notebook cell run twice); an
        # older one's remove() then leaves it alone.
        if bullet_client is not None:
            bullet_client.setJointMotorControl2 = self.control_one
            bullet_client.setJointMotorControlArray = self.control_array
        else:
            _module_hooks[client_id] = self
            for name, dispatcher in _DISPATCHERS.items():
                setattr(p, name, dispatcher)

    def neutral(self) -> None:
        """Pass commands unscaled until the next episode's scales are applied: an env's own reset (which
        may drive its motors to a start pose) then runs with nominal actuation, whatever the last episode
        drew, so the start state does not depend on the episode before."""
        self.gain_scale = self.force_scale = 1.0

    def select(self, joints: set[tuple[int, int]]) -> None:
        """Limit scaling to these (body id, joint index) pairs."""
        self._joints = joints

    def remove(self) -> None:
        """Send the client's commands unscaled again (PyBullet's own functions back in place)."""
        if self.bullet_client is not None:
            for name in _NAMES:
                if getattr(self.bullet_client.__dict__.get(name), "__self__", None) is self:
                    del self.bullet_client.__dict__[name]
        elif _module_hooks.get(self.client_id) is self:
            del _module_hooks[self.client_id]
            if not _module_hooks:
                for name, function in _MODULE_FUNCTIONS.items():
                    if getattr(p, name) is _DISPATCHERS[name]:  # left alone if someone replaced it since
                        setattr(p, name, function)

    def _selected(self, body: int, joint: int) -> bool:
        return self._joints is None or (body, joint) in self._joints

    def control_one(self, *args: Any, **kwargs: Any) -> None:
        """``setJointMotorControl2`` with the selected joint's gains and force scaled."""
        kwargs = _by_name(_ONE_ARGS, args, kwargs)
        if self._selected(kwargs["bodyUniqueId"], kwargs["jointIndex"]):
            self._scale(kwargs["controlMode"], kwargs, single=True, selected=[True])
        kwargs.setdefault("physicsClientId", self.client_id)
        _pybullet("setJointMotorControl2")(**kwargs)

    def control_array(self, *args: Any, **kwargs: Any) -> None:
        """``setJointMotorControlArray`` with the selected joints' gains and forces scaled."""
        kwargs = _by_name(_ARRAY_ARGS, args, kwargs)
        indices = kwargs["jointIndices"] = list(kwargs["jointIndices"])
        selected = [self._selected(kwargs["bodyUniqueId"], j) for j in indices]
        if any(selected):
            self._scale(kwargs["controlMode"], kwargs, single=False, selected=selected)
        kwargs.setdefault("physicsClientId", self.client_id)
        _pybullet("setJointMotorControlArray")(**kwargs)

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


_module_hooks: dict[int, MotorHook] = {}  # client id -> its hook, for envs that call the pybullet module


def _pybullet(name: str) -> Callable[..., None]:
    """The function the pybullet module holds under ``name``, or PyBullet's own where that is our
    dispatcher (so that a hook never calls itself, and any other stand-in is respected)."""
    function = getattr(p, name)
    return _MODULE_FUNCTIONS[name] if function is _DISPATCHERS.get(name) else function


class _Dispatcher:
    """The stand-in for ``pybullet.<name>`` while a module hook is installed: a command to a hooked client
    goes through its hook's ``method``, any other straight to PyBullet.

    It passes for a builtin function (its ``__class__``): a ``BulletClient`` injects its own
    ``physicsClientId`` only into builtins it resolves from the module, and without it a BulletClient
    env's command would reach the dispatcher without a client id and go to client 0."""

    __class__ = property(lambda self: types.BuiltinFunctionType)  # type: ignore[assignment]

    def __init__(self, name: str, arg_names: tuple[str, ...], method: str) -> None:
        self.__name__ = self.__qualname__ = name
        self._arg_names, self._method = arg_names, method

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        kwargs = _by_name(self._arg_names, args, kwargs)
        hook = _module_hooks.get(kwargs.get("physicsClientId", 0))
        if hook is None:
            _pybullet(self.__name__)(**kwargs)
        else:
            getattr(hook, self._method)(**kwargs)


_DISPATCHERS = {
    "setJointMotorControl2": _Dispatcher("setJointMotorControl2", _ONE_ARGS, "control_one"),
    "setJointMotorControlArray": _Dispatcher("setJointMotorControlArray", _ARRAY_ARGS, "control_array"),
}
