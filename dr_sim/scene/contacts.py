"""Forgetting the engine's contact caches.

PyBullet keeps a persistent contact manifold for every pair of bodies whose bounding boxes overlap, and
with it each contact point's warm-start impulses. A reset that only moves bodies
(``resetBasePositionAndOrientation``, ``resetJointState``) can keep those caches. An env's own episodes
do not show it (an episode replayed from its record steps through the same states whatever ran before),
but short-horizon replays (``dr_sim.calibration.simulator``), which set the state at every step and
branch segments off in-memory snapshots (``saveState``/``restoreState``), do: measured on PuckPush, a
replay under one puck friction gave another discrepancy after a replay under a lower friction than on a
fresh worker. ``forget_contacts`` drops every cache: each body is moved far apart from every other, the
broadphase is updated (pairs that no longer overlap lose their manifolds), and each body goes back where
it was.
"""

from __future__ import annotations

from typing import Any

FAR_APART = 1000.0  # m between the bodies while the caches are dropped


def forget_contacts(client: Any) -> None:
    """Drop every contact cache of ``client`` (a PyBullet client); bodies end where they were."""
    bodies = [client.getBodyUniqueId(i) for i in range(client.getNumBodies())]
    poses = {body: client.getBasePositionAndOrientation(body) for body in bodies}
    for i, body in enumerate(bodies):
        client.resetBasePositionAndOrientation(body, [FAR_APART * (i + 1), 0.0, -FAR_APART], [0.0, 0.0, 0.0, 1.0])
    client.performCollisionDetection()
    for body, (position, orientation) in poses.items():
        client.resetBasePositionAndOrientation(body, position, orientation)
