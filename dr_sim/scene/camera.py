"""A pinhole camera rendered with PyBullet: RGB, metric depth and instance segmentation in one call.

The camera renders with TinyRenderer, or with the EGL plugin where its client has it loaded
(``dr_sim.scene.egl``): ``renderer="auto"`` (default) follows the client, ``"tiny"`` or ``"egl"``
insist and fail with one message on a client that renders otherwise. Both give the same labels for
the same ``K`` and pose (each samples where its rasterizer puts pixel centres).

Conventions: positions in metres, angles in radians except ``fov`` (vertical, degrees, as PyBullet),
pixels with the origin at the top-left. ``intrinsics()`` is the OpenCV matrix K and ``pose()`` the
4x4 camera-to-world transform in the OpenCV frame (x right, y down, z forward), so that a world
point X projects to ``K @ (inv(pose) @ X)[:3]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pybullet as p

from dr_sim.errors import ConfigError, DrSimError
from dr_sim.scene import egl

LIGHT_ARGUMENTS = (
    "lightDirection",
    "lightColor",
    "lightDistance",
    "shadow",
    "lightAmbientCoeff",
    "lightDiffuseCoeff",
    "lightSpecularCoeff",
)


@dataclass(frozen=True)
class Frame:
    """One rendered frame.

    ``rgb`` uint8 (H, W, 3); ``depth`` float32 metres (H, W); ``body`` and ``link`` int32 (H, W)
    instance ids, -1 for background and link -1 for a body's base (``None`` when not rendered).
    """

    rgb: np.ndarray
    depth: np.ndarray | None
    body: np.ndarray | None
    link: np.ndarray | None


@dataclass
class CameraState:
    """Where the camera is and how it sees: the nominal values plus any randomization."""

    eye: np.ndarray
    target: np.ndarray
    up: np.ndarray
    fov: float
    near: float
    far: float
    aim: np.ndarray = field(default_factory=lambda: np.zeros(2))
    roll: float = 0.0
    principal_point: np.ndarray = field(default_factory=lambda: np.zeros(2))

    def copy(self) -> CameraState:
        return CameraState(
            self.eye.copy(),
            self.target.copy(),
            self.up.copy(),
            self.fov,
            self.near,
            self.far,
            self.aim.copy(),
            self.roll,
            self.principal_point.copy(),
        )


class Camera:
    """A camera of ``width`` x ``height`` pixels on one PyBullet client; ``renderer`` as in the module doc."""

    def __init__(self, client_id: int, width: int, height: int, nominal: CameraState, renderer: str = "auto") -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f"image size must be positive, got {width}x{height}")
        if renderer not in egl.RENDERERS:
            raise ConfigError(f"renderer must be one of {egl.RENDERERS}, got {renderer!r}")
        self.client_id = client_id
        self.renderer = renderer
        self.width = width
        self.height = height
        self.nominal = nominal.copy()
        self.state = nominal.copy()

    def reset(self) -> None:
        """Return to the nominal pose and intrinsics."""
        self.state = self.nominal.copy()

    # -- geometry ---------------------------------------------------------------------------
    def _axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Forward, right and down unit vectors in the world frame (aim and roll applied)."""
        s = self.state
        forward = _unit(s.target - s.eye)
        right = _unit(_cross(forward, s.up))
        down = _cross(forward, right)
        yaw, pitch = s.aim
        forward = _rotate(forward, -down, yaw)
        right = _rotate(right, -down, yaw)
        forward, down = _rotate(forward, right, pitch), _rotate(down, right, pitch)
        right, down = _rotate(right, forward, s.roll), _rotate(down, forward, s.roll)
        return forward, right, down

    def pose(self) -> np.ndarray:
        """4x4 camera-to-world transform (OpenCV camera frame), metres."""
        forward, right, down = self._axes()
        transform = np.eye(4)
        transform[:3, 0], transform[:3, 1], transform[:3, 2] = right, down, forward
        transform[:3, 3] = self.state.eye
        return transform

    def intrinsics(self) -> np.ndarray:
        """3x3 OpenCV intrinsics K in pixels (square pixels, vertical ``fov``)."""
        focal = 0.5 * self.height / np.tan(np.radians(self.state.fov) / 2)
        cx = self.width / 2 + self.state.principal_point[0]
        cy = self.height / 2 + self.state.principal_point[1]
        return np.array([[focal, 0.0, cx], [0.0, focal, cy], [0.0, 0.0, 1.0]])

    def view_matrix(self) -> list[float]:
        """Column-major OpenGL view matrix for ``getCameraImage``."""
        forward, right, down = self._axes()
        eye = self.state.eye
        rotation = np.stack([right, -down, -forward])  # OpenGL camera: x right, y up, z backward
        view = np.eye(4)
        view[:3, :3] = rotation
        view[:3, 3] = -rotation @ eye
        return view.T.reshape(-1).tolist()

    def active_renderer(self) -> str:
        """``tiny`` or ``egl``: what renders this camera's client (one message if ``renderer`` differs)."""
        active = "egl" if egl.serves(self.client_id) else "tiny"
        if self.renderer not in ("auto", active):
            raise DrSimError(
                f"camera renderer {self.renderer!r}, but PyBullet client {self.client_id} renders with {active!r} "
                f"(the EGL plugin, once loaded on a client, renders all of its images): use renderer='auto'"
            )
        return active

    def projection_matrix(self) -> list[float]:
        """Column-major OpenGL projection matrix matching ``intrinsics()`` for the active renderer."""
        k = self.intrinsics()
        w, h, n, f = self.width, self.height, self.state.near, self.state.far
        proj = np.zeros((4, 4))
        proj[0, 0] = 2 * k[0, 0] / w
        proj[1, 1] = 2 * k[1, 1] / h
        # TinyRenderer samples pixel corners: pixel (c, r) shows the point that K puts at (c + 0.5, r + 0.5)
        # only after shifting the principal point by half a pixel, so labels line up with pixel centres.
        # OpenGL (EGL) samples pixel centres already.
        shift = 0.5 if self.active_renderer() == "tiny" else 0.0
        proj[0, 2] = 1 - 2 * (k[0, 2] - shift) / w
        proj[1, 2] = 2 * (k[1, 2] + shift) / h - 1
        proj[2, 2] = -(f + n) / (f - n)
        proj[2, 3] = -2 * f * n / (f - n)
        proj[3, 2] = -1
        return proj.T.reshape(-1).tolist()

    # -- rendering --------------------------------------------------------------------------
    def render(self, light: dict[str, object] | None = None, *, depth: bool = True, segmentation: bool = True) -> Frame:
        """Render the active renderer's frame. ``light`` holds ``getCameraImage`` light arguments; under EGL
        only its direction reaches the renderer and its color multiplies the image (see ``dr_sim.scene.egl``)."""
        flags = p.ER_SEGMENTATION_MASK_OBJECT_AND_LINKINDEX if segmentation else p.ER_NO_SEGMENTATION_MASK
        light = dict(light or {})
        color = None
        if self.active_renderer() == "egl":
            color = light.get("lightColor")
            light = {"lightDirection": light.get("lightDirection", egl.DEFAULT_LIGHT_DIRECTION)}
        _, _, rgba, depth_buffer, seg = p.getCameraImage(
            self.width,
            self.height,
            viewMatrix=self.view_matrix(),
            projectionMatrix=self.projection_matrix(),
            renderer=p.ER_TINY_RENDERER,
            flags=flags,
            physicsClientId=self.client_id,
            **light,
        )
        rgb = np.asarray(rgba, dtype=np.uint8).reshape(self.height, self.width, 4)[:, :, :3]
        if color is not None:
            rgb = (rgb * np.clip(np.asarray(color, dtype=np.float32), 0, 1) + 0.5).astype(np.uint8)
        metric = None
        if depth:
            buffer = np.asarray(depth_buffer, dtype=np.float32).reshape(self.height, self.width)
            near, far = self.state.near, self.state.far
            metric = (far * near / (far - (far - near) * buffer)).astype(np.float32)
        body = link = None
        if segmentation:
            raw = np.asarray(seg, dtype=np.int64).reshape(self.height, self.width)
            background = raw < 0
            body = np.where(background, -1, raw & ((1 << 24) - 1)).astype(np.int32)
            link = np.where(background, -1, (raw >> 24) - 1).astype(np.int32)
        return Frame(np.ascontiguousarray(rgb), metric, body, link)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = math.sqrt(float(vector[0]) ** 2 + float(vector[1]) ** 2 + float(vector[2]) ** 2)
    if norm == 0:
        raise ValueError("camera eye and target coincide, or up is parallel to the viewing direction")
    return vector / norm


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product of two 3-vectors (``np.cross`` costs ~10x more for one pair)."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def _rotate(vector: np.ndarray, axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues rotation of ``vector`` about unit ``axis`` by ``angle`` radians."""
    if angle == 0:
        return vector
    axis = _unit(axis)
    cos, sin = math.cos(angle), math.sin(angle)
    along = float(axis[0] * vector[0] + axis[1] * vector[1] + axis[2] * vector[2])
    return vector * cos + _cross(axis, vector) * sin + axis * (along * (1 - cos))
