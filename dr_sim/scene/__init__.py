"""Scene layer: named handles on a PyBullet client, cameras and motor interception."""

from dr_sim.scene.camera import Camera, CameraState, Frame
from dr_sim.scene.scene import JointRef, LinkRef, Scene

__all__ = ["Camera", "CameraState", "Frame", "JointRef", "LinkRef", "Scene"]
