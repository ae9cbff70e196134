"""Settling: the placed scene falls to rest before its first frame, and its rest state is recorded.

``settle`` steps the simulation a bounded number of times and returns the state of the given bodies
(base position m, orientation xyzw, linear m/s and angular rad/s velocity), JSON-friendly; ``restore``
writes such a record back. The first episode settles, records and restores its own record; a replay
restores the same record without stepping, so both end in the same state bit for bit. Every dynamic
body of the scene steps; only the given bodies are recorded.
"""

from __future__ import annotations

from typing import Any

import pybullet as p

State = dict[str, list[float]]


def settle(client_id: int, bodies: dict[str, int], steps: int) -> dict[str, State]:
    """Step the simulation ``steps`` times; the resulting state of each of ``bodies`` (name -> id)."""
    for _ in range(steps):
        p.stepSimulation(physicsClientId=client_id)
    return {name: body_state(client_id, body) for name, body in bodies.items()}


def body_state(client_id: int, body: int) -> State:
    """A body's base pose and velocity as plain lists."""
    position, orientation = p.getBasePositionAndOrientation(body, physicsClientId=client_id)
    linear, angular = p.getBaseVelocity(body, physicsClientId=client_id)
    return {
        "position": list(position),
        "orientation": list(orientation),
        "linear": list(linear),
        "angular": list(angular),
    }


def restore(client_id: int, bodies: dict[str, int], record: dict[str, Any]) -> None:
    """Write the recorded states of ``bodies`` (name -> id) back into the simulation."""
    for name, body in bodies.items():
        state = record[name]
        p.resetBasePositionAndOrientation(body, state["position"], state["orientation"], physicsClientId=client_id)
        p.resetBaseVelocity(body, state["linear"], state["angular"], physicsClientId=client_id)
