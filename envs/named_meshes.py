"""Named meshes: objects a user names by path (an OBJ file, or a URDF whose first visual is a mesh).

``load_mesh(path, scale, rpy)`` reads the file once and gives a ``NamedMesh``: the object's frame, its
own bounding box and its model points, all without PyBullet, so that evaluation rebuilds the very same
object from a data set's config. ``add_named_mesh`` then creates the body.

The object frame (what labels call the body's base frame, and what a 6-DoF pose is the pose of):

- the mesh's vertices (OBJ units times ``scale``; a URDF's mesh ``scale`` and visual ``origin`` applied
  first, then ``scale`` on the whole link), rotated by ``rpy`` (roll, pitch, yaw in radians, the
  URDF convention: R = Rz(yaw) Ry(pitch) Rx(roll)) so that the object rests upright on its lowest face
  (for example ``[1.5708, 0, 0]`` stands pybullet_data's y-up duck on its feet);
- then shifted so that the centre of their axis-aligned bounding box is the origin.

The body's collision shape is that box exactly (a box's PyBullet AABB carries no margin, a mesh's does:
about 2-4 mm), so the box-corner keypoints that ``dr_sim.scene.labels.local_box`` measures are the
mesh's own bounding box, and the object rests on the table with its lowest vertex on the top. The
visual shape is the mesh.

A relative path is looked up in the working directory first, then in pybullet_data (``duck_vhacd.urdf``,
``teddy_vhacd.urdf``, ``objects/mug.urdf``, ``random_urdfs/000/000.obj``, ``bunny.obj``, ...). A missing,
unreadable or meshless file ends in one ``ConfigError`` naming the path and what would be right. Units:
metres (OBJ files are taken as metres times ``scale``).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pybullet as p
import pybullet_data
from pybullet_utils.bullet_client import BulletClient

from dr_sim.errors import ConfigError

MESH_SUFFIXES = (".obj", ".urdf")
MAX_MODEL_POINTS = 2000  # vertices kept as model points (ADD, ADD-S): every k-th one beyond this
EXAMPLES = "duck_vhacd.urdf, teddy_vhacd.urdf or objects/mug.urdf (pybullet_data)"


@dataclass(frozen=True)
class NamedMesh:
    """A mesh object, resolved: ``path`` the file named, ``mesh_file`` the OBJ drawn, ``mesh_scale`` (3,)
    its scale, ``frame_rotation`` (3x3) and ``frame_position`` (3,, m) the mesh-to-object transform,
    ``half_extents`` (3,, m) of its own box centred at the object origin, ``points`` (N, 3) model points
    (m, object frame), ``color`` the URDF's RGBA or ``None``."""

    path: Path
    mesh_file: Path
    mesh_scale: np.ndarray
    frame_rotation: np.ndarray
    frame_position: np.ndarray
    half_extents: np.ndarray
    points: np.ndarray
    color: tuple[float, float, float, float] | None

    @property
    def low(self) -> np.ndarray:
        """The box's low corner (m, object frame)."""
        return -self.half_extents

    @property
    def high(self) -> np.ndarray:
        """The box's high corner (m, object frame)."""
        return self.half_extents.copy()

    @property
    def height(self) -> float:
        """Height (m) of the box: its centre rests this much over the table top divided by 2."""
        return float(2 * self.half_extents[2])

    @property
    def footprint_radius(self) -> float:
        """Half the diagonal (m) of the box on the table plane: the object's reach at any yaw."""
        return float(np.hypot(self.half_extents[0], self.half_extents[1]))


def resolve_mesh_path(path: str | Path, what: str) -> Path:
    """The file ``path`` names: as given (relative to the working directory), else in pybullet_data."""
    if not isinstance(path, str | Path) or not str(path):
        raise ConfigError(f"{what} must be the path of an .obj or .urdf file (for example {EXAMPLES}), got {path!r}")
    given = Path(path).expanduser()
    if given.suffix.lower() not in MESH_SUFFIXES:
        raise ConfigError(f"{what} {str(path)!r} is not an .obj or .urdf file; name a mesh such as {EXAMPLES}")
    for candidate in (given, Path(pybullet_data.getDataPath()) / given):
        if candidate.is_file():
            return candidate.resolve()
    raise ConfigError(
        f"{what} {str(path)!r} does not exist (looked in the working directory and in pybullet_data); "
        f"give an existing .obj or .urdf file, for example {EXAMPLES}"
    )


def mesh_files(entries: Sequence[str | Path], what: str) -> list[Path]:
    """The mesh files of ``entries``: each a file (as ``resolve_mesh_path``) or a folder, which gives its
    .obj and .urdf files, recursively, in sorted order (a URDF's own meshes are left out beside it)."""
    found: list[Path] = []
    for entry in entries:
        folder = Path(entry).expanduser()
        if not folder.is_dir() and (Path(pybullet_data.getDataPath()) / folder).is_dir():
            folder = Path(pybullet_data.getDataPath()) / folder
        if folder.is_dir():
            files = sorted(f for f in folder.rglob("*") if f.is_file() and f.suffix.lower() in MESH_SUFFIXES)
            urdf_stems = {(f.parent, f.stem) for f in files if f.suffix.lower() == ".urdf"}
            files = [f for f in files if f.suffix.lower() == ".urdf" or (f.parent, f.stem) not in urdf_stems]
            if not files:
                raise ConfigError(f"{what}: folder {str(entry)!r} holds no .obj or .urdf file")
            found += [f.resolve() for f in files]
        else:
            found.append(resolve_mesh_path(entry, what))
    return found


def read_obj_vertices(path: Path, what: str) -> np.ndarray:
    """The vertices (N, 3) of an OBJ file, in its own units; one ``ConfigError`` if it has none."""
    try:
        lines = path.read_text(errors="strict").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(
            f"{what} {str(path)!r} cannot be read as an OBJ text file ({error}); give a Wavefront .obj"
        ) from None
    vertices = []
    try:
        for line in lines:
            if line.startswith("v "):
                vertices.append([float(value) for value in line.split()[1:4]])
        array = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    except ValueError:
        raise ConfigError(f"{what} {str(path)!r} has a malformed vertex line; give a valid Wavefront .obj") from None
    if len(array) < 4 or not np.all(np.isfinite(array)):
        raise ConfigError(
            f"{what} {str(path)!r} holds no mesh (fewer than 4 finite 'v x y z' vertices); give a valid .obj"
        )
    return array


def _floats(text: str | None, count: int, default: float) -> np.ndarray:
    values = [float(v) for v in (text or "").split()] or [default] * count
    if len(values) == 1:
        values *= count
    if len(values) != count:
        raise ValueError(f"expected {count} numbers, got {text!r}")
    return np.asarray(values, dtype=np.float64)


def urdf_visual(path: Path, what: str) -> tuple[Path, np.ndarray, np.ndarray, np.ndarray, tuple[float, ...] | None]:
    """(mesh file, mesh scale (3,), visual origin xyz (m), visual origin rpy (rad), RGBA or ``None``) of
    the first ``<visual>`` with a ``<mesh>`` in a URDF."""
    try:
        root = ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError) as error:
        raise ConfigError(
            f"{what} {str(path)!r} is not a readable URDF ({error}); give a valid .urdf or an .obj"
        ) from None
    for visual in root.iter("visual"):
        mesh = visual.find("geometry/mesh")
        if mesh is None or not mesh.get("filename"):
            continue
        name = str(mesh.get("filename"))
        if "://" in name:
            raise ConfigError(f"{what} {str(path)!r}: mesh {name!r} is a package URI; use a path relative to the URDF")
        origin = visual.find("origin")
        try:
            scale = _floats(mesh.get("scale"), 3, 1.0)
            xyz = _floats(None if origin is None else origin.get("xyz"), 3, 0.0)
            rpy = _floats(None if origin is None else origin.get("rpy"), 3, 0.0)
            color = visual.find("material/color")
            rgba = None if color is None else tuple(float(v) for v in _floats(color.get("rgba"), 4, 1.0))
        except ValueError as error:
            raise ConfigError(f"{what} {str(path)!r}: a malformed visual ({error})") from None
        mesh_file = (path.parent / name).resolve()
        if mesh_file.suffix.lower() != ".obj" or not mesh_file.is_file():
            raise ConfigError(
                f"{what} {str(path)!r}: its visual mesh {name!r} is not an existing .obj file; "
                f"name a URDF whose visual is an OBJ mesh, or the .obj itself"
            )
        return mesh_file, scale, xyz, rpy, rgba
    raise ConfigError(f"{what} {str(path)!r} has no <visual> with a <mesh>; name an object URDF or an .obj file")


def rpy_matrix(rpy: Sequence[float]) -> np.ndarray:
    """The rotation matrix of roll, pitch, yaw (rad): Rz(yaw) @ Ry(pitch) @ Rx(roll)."""
    roll, pitch, yaw = (float(v) for v in rpy)
    cr, sr, cp, sp, cy, sy = (
        math.cos(roll),
        math.sin(roll),
        math.cos(pitch),
        math.sin(pitch),
        math.cos(yaw),
        math.sin(yaw),
    )
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    return rz @ ry @ rx


def load_mesh(
    path: str | Path, scale: float = 1.0, rpy: Sequence[float] = (0.0, 0.0, 0.0), what: str = "target_mesh"
) -> NamedMesh:
    """Read the mesh ``path`` names (see the module docstring for ``scale``, ``rpy`` and the frame)."""
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not math.isfinite(scale) or scale <= 0:
        raise ConfigError(f"{what} scale must be a number > 0 (1.0 keeps the file's size), got {scale!r}")
    if len(rpy) != 3 or not all(isinstance(v, int | float) and math.isfinite(v) for v in rpy):
        raise ConfigError(f"{what} rpy must be [roll, pitch, yaw] in radians, got {rpy!r}")
    file = resolve_mesh_path(path, what)
    if file.suffix.lower() == ".urdf":
        mesh_file, mesh_scale, xyz, origin_rpy, color = urdf_visual(file, what)
    else:
        mesh_file, mesh_scale, xyz, origin_rpy, color = file, np.ones(3), np.zeros(3), np.zeros(3), None
    vertices = read_obj_vertices(mesh_file, what)
    rotation = rpy_matrix(rpy) @ rpy_matrix(origin_rpy)
    offset = rpy_matrix(rpy) @ (scale * xyz)
    points = (rotation @ (scale * mesh_scale * vertices).T).T + offset
    low, high = points.min(axis=0), points.max(axis=0)
    centre = (low + high) / 2
    if np.any(high - low <= 1e-6):
        raise ConfigError(
            f"{what} {str(path)!r} is flat (its box is {np.round(high - low, 6).tolist()} m); name a solid mesh"
        )
    points = points - centre
    step = max(1, math.ceil(len(points) / MAX_MODEL_POINTS))
    return NamedMesh(
        path=file,
        mesh_file=mesh_file,
        mesh_scale=scale * mesh_scale,
        frame_rotation=rotation,
        frame_position=offset - centre,
        half_extents=(high - low) / 2,
        points=points[::step].copy(),
        color=None if color is None else (color[0], color[1], color[2], color[3]),
    )


def add_named_mesh(
    client: BulletClient, mesh: NamedMesh, mass: float, color: Sequence[float], position: Sequence[float]
) -> int:
    """Create the body of ``mesh`` (visual: the mesh; collision: its own box) at ``position`` (m); returns
    its id. ``color`` (RGBA) is used where the URDF gives none."""
    rgba = list(mesh.color if mesh.color is not None else color)
    quaternion = _quaternion(mesh.frame_rotation)
    visual = client.createVisualShape(
        p.GEOM_MESH,
        fileName=str(mesh.mesh_file),
        meshScale=mesh.mesh_scale.tolist(),
        visualFramePosition=mesh.frame_position.tolist(),
        visualFrameOrientation=quaternion,
        rgbaColor=rgba,
    )
    if visual < 0:
        raise ConfigError(f"PyBullet could not load the mesh {str(mesh.mesh_file)!r}; give a valid Wavefront .obj")
    collision = client.createCollisionShape(p.GEOM_BOX, halfExtents=mesh.half_extents.tolist())
    return int(client.createMultiBody(mass, collision, visual, list(position)))


def _quaternion(rotation: np.ndarray) -> list[float]:
    """xyzw quaternion of a rotation matrix."""
    r = rotation
    w = math.sqrt(max(0.0, 1 + r[0, 0] + r[1, 1] + r[2, 2])) / 2
    x = math.copysign(math.sqrt(max(0.0, 1 + r[0, 0] - r[1, 1] - r[2, 2])) / 2, r[2, 1] - r[1, 2])
    y = math.copysign(math.sqrt(max(0.0, 1 - r[0, 0] + r[1, 1] - r[2, 2])) / 2, r[0, 2] - r[2, 0])
    z = math.copysign(math.sqrt(max(0.0, 1 - r[0, 0] - r[1, 1] + r[2, 2])) / 2, r[1, 0] - r[0, 1])
    return [x, y, z, w]
