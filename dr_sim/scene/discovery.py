"""Find an env's PyBullet client, body names and control period, wherever the env keeps them.

Envs keep their client under many names (``physics_client``, ``_p``, ``_pybullet_client``, a
``BulletClient`` under any name, a connected id under a name with ``client`` or ``cid`` in it) and
sit behind layers: Gymnasium wrappers (``env``), compatibility wrappers of old Gym envs (shimmy's
``gym_env``), ``_env``, ``unwrapped``, and a simulation object (panda-gym's ``sim``). An env that keeps
the ``pybullet`` module itself (``self._p = pybullet``) talks to the default client, 0. ``holders``
walks those layers breadth first, outermost first, each object once; ``find_pybullet`` asks each layer
in turn. An env that makes its client in its first ``reset()`` has none before it: the wrapper looks
again after that reset.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pybullet as p

#: Attributes that hold a client by convention, asked first on every layer.
CLIENT_ATTRIBUTES = (
    "physics_client",
    "bullet_client",
    "pybullet_client",
    "_pybullet_client",
    "_p",
    "client",
    "_client",
    "client_id",
    "physicsClientId",
)
#: Attributes that hold an inner layer (a wrapped env, an old Gym env, a simulation object).
LAYER_ATTRIBUTES = ("env", "_env", "gym_env", "unwrapped", "sim")
MAX_DEPTH = 8  # layers walked at most
_TIME_STEPS = ("_time_step", "_timeStep", "time_step", "timestep")
_REPEATS = ("_action_repeat", "_actionRepeat", "action_repeat", "frame_skip")


@dataclass(frozen=True)
class FoundClient:
    """What ``find_pybullet`` found: the ``BulletClient`` (``None`` when the env calls the pybullet module
    with an id), the client id and the env's body names (``None`` when it keeps none)."""

    bullet: Any
    client_id: int
    body_names: dict[str, int] | None


def holders(env: Any) -> Iterator[Any]:
    """``env`` and every layer inside it (``LAYER_ATTRIBUTES``), breadth first, each object once."""
    seen: set[int] = set()
    level = [env]
    for _ in range(MAX_DEPTH):
        following = []
        for holder in level:
            if holder is None or id(holder) in seen:
                continue
            seen.add(id(holder))
            yield holder
            following += [_attribute(holder, name) for name in LAYER_ATTRIBUTES]
        level = following
        if not level:
            return


def find_pybullet(env: Any) -> FoundClient | None:
    """The client of ``env`` (see the module docstring), or ``None`` when no layer holds one yet."""
    for holder in holders(env):
        found = _client_of(holder)
        if found is not None:
            bullet, client_id = found
            names = _attribute(holder, "_bodies_idx") or _attribute(holder, "sim_bodies")
            for other in holders(env):  # names may sit on another layer than the client (panda-gym's sim)
                names = names or _attribute(other, "_bodies_idx") or _attribute(other, "sim_bodies")
            return FoundClient(bullet, client_id, names if isinstance(names, dict) else None)
    return None


def control_period(env: Any) -> float | None:
    """The env's control period in seconds: a ``dt``, ``control_time_step`` or ``control_dt`` on a layer
    or its ``scene``, else a time step times an action repeat (``_time_step * _action_repeat``)."""
    for holder in holders(env):
        for place in (holder, _attribute(holder, "scene")):
            for name in ("dt", "control_time_step", "control_dt"):
                value = _attribute(place, name)
                if _positive(value):
                    return float(value)
            step = next((_attribute(place, n) for n in _TIME_STEPS if _positive(_attribute(place, n))), None)
            repeat = next((_attribute(place, n) for n in _REPEATS if _positive(_attribute(place, n))), None)
            if step is not None and repeat is not None:
                return float(step) * float(repeat)
    return None


def _client_of(holder: Any) -> tuple[Any, int] | None:
    """(BulletClient or None, id) held by one layer: the conventional attributes first, then any other."""
    others = [name for name in getattr(holder, "__dict__", {}) if name not in CLIENT_ATTRIBUTES]
    for attribute in (*CLIENT_ATTRIBUTES, *others):
        value = _attribute(holder, attribute)
        if value is p and p.isConnected(0):  # the pybullet module itself: the env talks to the default client
            return None, 0
        client_id = getattr(value, "_client", None)
        if _is_id(client_id) and client_id >= 0:
            return value, client_id
        known = attribute in CLIENT_ATTRIBUTES
        if _is_id(value) and value >= 0 and (known or _names_a_client(attribute)) and p.isConnected(value):
            return None, value
    return None


def _attribute(holder: Any, name: str) -> Any:
    """``getattr(holder, name, None)``, also when the attribute is a property that raises."""
    if holder is None:
        return None
    try:
        return getattr(holder, name, None)
    except Exception:  # a property of a third-party env (an unbuilt scene, a closed client)
        return None


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _names_a_client(attribute: str) -> bool:
    """Whether an attribute's name says it holds a PyBullet client id."""
    name = attribute.lower().strip("_")
    return "client" in name or name in ("cid", "physics_id", "pb_id")
