"""Render level of detail: the same robot drawn from its collision meshes instead of its visual meshes.

``render_detail="low"`` (the default of dr_sim's tasks) loads an arm from a *low-detail URDF*: a copy of
its URDF in which every link whose collision meshes have at most ``REDUCTION`` of its visual meshes'
triangles is drawn from those collision meshes. ``"full"`` loads the URDF as it is.

Why collision meshes and not meshes decimated by a library: TinyRenderer's cost is set by the triangles it
draws (the Panda's visual meshes: 101,735 triangles, 24.5 ms for one 84 px frame without shadows; its
collision meshes: 3,440 triangles, 3.5 ms), and the collision meshes are already there, made by hand to
enclose each link, closed, and with no thin slivers; a general decimator brought down to the same 3 %
budget needs a new dependency, a cache of its outputs that must follow its version, and it loses exactly
the thin parts (fingers, flanges) that the hand-made meshes keep. And what is drawn is then exactly what
collides: a segmentation mask, box or visibility label of a low-detail frame describes the shape that
touches the objects. The price is the silhouette: a collision mesh is slightly larger and rounder than
the visual one (the Panda's mask IoU between the details is reported in ``profiling/render_detail.py``
and bounded in the tests). Arms whose collision meshes are as fine as their visual ones (the KUKA iiwa:
the same meshes as STL) keep their URDF unchanged.

Physics is untouched: the low-detail URDF keeps every ``<collision>``, ``<inertial>`` and joint element
as it was (mesh file names made absolute, the same files), so the same collision shapes, masses and
inertias are loaded and a rollout's state trajectory is bit-identical at either detail.

The nominal look stays: a link's colours come from its visual mesh. Each collision triangle takes the
colour (texture at the triangle's mean texture coordinate, times the URDF material colour) of the nearest
visual triangle; the colours are grouped into at most ``MAX_COLORS`` per link (a group of less than
``MIN_COLOR_SHARE`` of the link's area, or closer than ``MIN_COLOR_DISTANCE`` to a larger one, joins the
nearest colour kept) and each group becomes one ``<visual>``
of the link with that colour, the largest first (so the Panda stays white with dark joint rings).

The low-detail URDF and its meshes are written once into a cache folder (``cache_root()``:
``DR_SIM_CACHE``, else ``$XDG_CACHE_HOME/dr_sim``, else ``~/.cache/dr_sim``), in a subfolder named by
the SHA-256 of everything they are made from (the URDF's path and bytes, every mesh and texture read,
this module's ``FORMAT``): a changed input gets a new folder, and concurrent processes that make the
same folder each write their own and keep the first that lands.

A body that someone else loaded keeps its meshes: PyBullet can change a visual shape's colour and texture
(``changeVisualShape``) but neither replace nor remove its geometry, and reloading a body changes its id
and drops its state. So for third-party envs the choice is made where the env loads its URDFs
(``loading_detail``); ``DomainRandomization`` reports which bodies it cannot reduce (``reducible_links``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pybullet as p
import pybullet_data

from dr_sim.errors import ConfigError
from dr_sim.scene.meshes import Mesh, obj_text, read_mesh, triangle_count

RENDER_DETAILS = ("low", "full")
DEFAULT_RENDER_DETAIL = "low"
#: A link is drawn from its collision meshes when they have at most this fraction of its visual triangles.
REDUCTION = 0.5
MAX_COLORS = 4  # visual shapes per low-detail link
MIN_COLOR_SHARE = 0.03  # of a link's collision-mesh area: a smaller colour group joins the nearest colour
MIN_COLOR_DISTANCE = 0.15  # RGB distance (channels in [0, 1]) under which a colour joins a larger one
FORMAT = "render-detail 1"  # part of the cache key: change it when the output of this module changes
#: The least IoU of the Panda's segmentation mask between ``low`` and ``full`` detail at 84 px over random poses
#: near home (measured 0.83-0.92 in ``profiling/render_detail.py``; asserted in the tests).
MIN_ROBOT_IOU = 0.8
_CHUNK = 256  # collision triangles per block of the nearest-triangle search


def check_render_detail(value: Any) -> str:
    """``value`` if it is a render detail, else one ``ConfigError`` naming the allowed values."""
    if value not in RENDER_DETAILS:
        raise ConfigError(f"render_detail must be one of {RENDER_DETAILS}, got {value!r}")
    return str(value)


def cache_root() -> Path:
    """The folder dr_sim caches derived files in (see the module docstring)."""
    explicit = os.environ.get("DR_SIM_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "dr_sim"


def find_urdf(name: str | Path, search: Sequence[str | Path] = ()) -> Path | None:
    """The URDF file ``name`` as PyBullet finds it: as given (absolute or from the working folder), else in
    each of ``search`` and then ``pybullet_data``; ``None`` if it is nowhere."""
    path = Path(name)
    for folder in [Path.cwd(), *map(Path, search), Path(pybullet_data.getDataPath())]:
        candidate = path if path.is_absolute() else folder / path
        if candidate.is_file():
            return candidate.resolve()
    return None


def urdf_for(urdf: str | Path, render_detail: str) -> str:
    """The URDF to load for ``render_detail``: ``urdf`` itself for ``full``, its low-detail copy for ``low``
    (``urdf`` itself when it is not found or no link of it is reduced)."""
    if check_render_detail(render_detail) == "full":
        return str(urdf)
    found = find_urdf(urdf)
    return str(low_detail_urdf(found)) if found is not None else str(urdf)


@functools.cache
def low_detail_urdf(urdf: Path) -> Path:
    """The low-detail copy of ``urdf`` (an existing file), made once into the cache; ``urdf`` itself when
    no link qualifies (see the module docstring)."""
    source = Path(urdf).resolve()
    plan = _plan(source)
    if not plan.links:
        return source
    folder = cache_root() / "render_detail" / f"{source.stem}-{plan.key}"
    target = folder / source.name
    if not target.is_file():
        _write(folder, source.name, plan)
    return target


# -- which links, and how --------------------------------------------------------------------------
@dataclass(frozen=True)
class _Shape:
    """A ``<visual>`` or ``<collision>`` mesh: its element, file, scale and origin (4x4, link frame)."""

    element: ET.Element
    path: Path
    scale: np.ndarray
    origin: np.ndarray


@dataclass(frozen=True)
class _Link:
    """A link to draw from its collision meshes: their triangles split into colour groups."""

    element: ET.Element
    collisions: list[_Shape]
    meshes: list[Mesh]
    groups: list[tuple[np.ndarray, list[np.ndarray]]]  # (RGBA, per collision mesh: its triangle indices)


@dataclass(frozen=True)
class _Plan:
    root: ET.Element
    folder: Path
    links: list[_Link]
    key: str


def _plan(source: Path) -> _Plan:
    text = source.read_bytes()
    root = ET.fromstring(text)
    digest = hashlib.sha256(f"{FORMAT}\n{source}\n".encode() + text)
    read: dict[Path, bytes] = {}

    def note(path: Path) -> None:
        if path not in read:
            read[path] = path.read_bytes()
            digest.update(str(path).encode() + read[path])

    colors = _named_colors(root)
    links = []
    for link in root.iter("link"):
        visuals = [_shape(v, source.parent) for v in link.findall("visual")]
        collisions = [_shape(c, source.parent) for c in link.findall("collision")]
        if not visuals or not collisions or None in visuals or None in collisions:
            continue  # a primitive, a missing file or nothing to draw: the link keeps its visuals
        visual_shapes = [shape for shape in visuals if shape is not None]
        collision_shapes = [shape for shape in collisions if shape is not None]
        drawn = sum(triangle_count(shape.path) for shape in visual_shapes)
        simple = sum(triangle_count(shape.path) for shape in collision_shapes)
        if simple == 0 or simple > REDUCTION * drawn:
            continue
        for shape in [*visual_shapes, *collision_shapes]:
            note(shape.path)
        visual_meshes = [read_mesh(shape.path) for shape in visual_shapes]
        for shape in visual_shapes:  # the texture files that colour them
            for texture in _texture_files(shape.path):
                note(texture)
        collision_meshes = [read_mesh(shape.path) for shape in collision_shapes]
        groups = _color_groups(visual_shapes, visual_meshes, collision_shapes, collision_meshes, colors)
        links.append(_Link(link, collision_shapes, collision_meshes, groups))
    return _Plan(root, source.parent, links, digest.hexdigest()[:16])


def _named_colors(root: ET.Element) -> dict[str, np.ndarray]:
    """RGBA of every named ``<material>`` with a ``<color>`` (URDF materials are named anywhere, used anywhere)."""
    named = {}
    for material in root.iter("material"):
        color = material.find("color")
        if material.get("name") and color is not None and color.get("rgba"):
            named[material.get("name", "")] = np.array([float(x) for x in color.get("rgba", "").split()])
    return named


def _shape(element: ET.Element, folder: Path) -> _Shape | None:
    """The mesh of a ``<visual>``/``<collision>``, or ``None`` (a primitive, or a file that is not found)."""
    mesh = element.find("geometry/mesh")
    if mesh is None:
        return None
    path = _mesh_path(mesh.get("filename", ""), folder)
    if path is None or path.suffix.lower() not in (".obj", ".stl"):
        return None
    scale = np.array([float(x) for x in mesh.get("scale", "1 1 1").split()])
    return _Shape(element, path, scale, _origin(element.find("origin")))


def _mesh_path(filename: str, folder: Path) -> Path | None:
    """A mesh file name of the URDF in ``folder``, as PyBullet resolves it (``package://`` dropped)."""
    name = filename.removeprefix("package://")
    for candidate in (Path(name), folder / name, folder / Path(name).name):
        if candidate.is_absolute() and candidate.is_file():
            return candidate.resolve()
    return None


def _origin(element: ET.Element | None) -> np.ndarray:
    """The 4x4 transform of an ``<origin xyz rpy>`` (metres, radians; fixed-axis roll, pitch, yaw)."""
    transform = np.eye(4)
    if element is None:
        return transform
    xyz = [float(x) for x in element.get("xyz", "0 0 0").split()]
    rpy = [float(x) for x in element.get("rpy", "0 0 0").split()]
    transform[:3, :3] = np.asarray(p.getMatrixFromQuaternion(p.getQuaternionFromEuler(rpy))).reshape(3, 3)
    transform[:3, 3] = xyz
    return transform


def _texture_files(mesh: Path) -> list[Path]:
    """The material library and texture image files an OBJ refers to (for the cache key)."""
    if mesh.suffix.lower() != ".obj":
        return []
    files = []
    with mesh.open(errors="replace") as lines:
        libraries = [mesh.parent / line.split(None, 1)[1].strip() for line in lines if line.startswith("mtllib ")]
    for library in libraries:
        if library.is_file():
            files.append(library)
            for line in library.read_text(errors="replace").splitlines():
                if line.strip().startswith("map_Kd"):
                    image = library.parent / line.split()[-1]
                    if image.is_file():
                        files.append(image)
    return files


def _in_link(shape: _Shape, points: np.ndarray) -> np.ndarray:
    """Points (N, 3) of a mesh file in the link frame (its scale, then its origin)."""
    scaled = points * shape.scale
    return scaled @ shape.origin[:3, :3].T + shape.origin[:3, 3]


def _scaled_areas(shape: _Shape, mesh: Mesh) -> np.ndarray:
    """(T,) triangle areas of a mesh in the link frame (m^2): its scale applied."""
    return Mesh(mesh.vertices * shape.scale, mesh.triangles).areas()


def _nearest(points: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """(N,) index of the nearest of ``candidates`` (M, 3) to each of ``points`` (N, 3)."""
    squared = (candidates**2).sum(axis=1)
    return np.concatenate(  # |a - b|^2 = |a|^2 - 2 a.b + |b|^2, and |a|^2 does not change the argmin
        [
            np.argmin(squared[None, :] - 2.0 * block @ candidates.T, axis=1)
            for block in np.array_split(points, max(1, len(points) // _CHUNK))
        ]
    )


def _visual_rgba(shape: _Shape, named: dict[str, np.ndarray]) -> np.ndarray:
    material = shape.element.find("material")
    if material is None:
        return np.ones(4)
    color = material.find("color")
    if color is not None and color.get("rgba"):
        return np.array([float(x) for x in color.get("rgba", "").split()])
    return named.get(material.get("name", ""), np.ones(4))


def _color_groups(
    visuals: list[_Shape],
    visual_meshes: list[Mesh],
    collisions: list[_Shape],
    collision_meshes: list[Mesh],
    named: dict[str, np.ndarray],
) -> list[tuple[np.ndarray, list[np.ndarray]]]:
    """Colour each collision triangle from the nearest visual triangle and group the colours (module doc)."""
    centres, colors = [], []
    for shape, mesh in zip(visuals, visual_meshes, strict=True):
        rgba = _visual_rgba(shape, named)
        centres.append(_in_link(shape, mesh.centroids()))
        colors.append(
            np.concatenate([mesh.triangle_colors() * rgba[:3], np.full((len(mesh.triangles), 1), rgba[3])], 1)
        )
    visual_centres, visual_colors = np.concatenate(centres), np.concatenate(colors)
    visual_areas = np.concatenate(
        [_scaled_areas(shape, mesh) for shape, mesh in zip(visuals, visual_meshes, strict=True)]
    )
    sizes = [len(mesh.triangles) for mesh in collision_meshes]
    points = np.concatenate(
        [_in_link(shape, mesh.centroids()) for shape, mesh in zip(collisions, collision_meshes, strict=True)]
    )
    areas = np.concatenate(
        [_scaled_areas(shape, mesh) for shape, mesh in zip(collisions, collision_meshes, strict=True)]
    )
    keys, visual_key = np.unique(np.round(visual_colors * 15).astype(np.int64), axis=0, return_inverse=True)
    visual_key = visual_key.reshape(-1)
    weight = visual_areas + 1e-12
    key_rgba = np.stack([np.bincount(visual_key, weight * visual_colors[:, i], len(keys)) for i in range(4)], axis=1)
    key_rgba /= np.bincount(visual_key, weight, len(keys))[:, None]
    # Each visual triangle votes with its area for the nearest collision triangle; a collision triangle takes
    # the colour with the most area, or (no votes) the colour of its nearest visual triangle.
    votes = np.bincount(
        _nearest(visual_centres, points) * len(keys) + visual_key, weight, len(points) * len(keys)
    ).reshape(len(points), len(keys))
    key = np.where(votes.sum(axis=1) > 0, votes.argmax(axis=1), visual_key[_nearest(points, visual_centres)])
    key_area = np.bincount(key, weights=areas, minlength=len(keys))
    order = np.argsort(-key_area, kind="stable")
    total = max(float(areas.sum()), 1e-12)
    kept: list[int] = []
    for k in order:  # the largest colours, each at least MIN_COLOR_DISTANCE from those kept before it
        far = all(np.linalg.norm(key_rgba[k, :3] - key_rgba[j, :3]) >= MIN_COLOR_DISTANCE for j in kept)
        if len(kept) < MAX_COLORS and (not kept or (far and key_area[k] >= MIN_COLOR_SHARE * total)):
            kept.append(int(k))
    distance = ((key_rgba[:, None, :3] - key_rgba[None, kept, :3]) ** 2).sum(axis=2)
    group = np.argmin(distance, axis=1)[key]  # every collision triangle's group, an index into ``kept``
    triangle_rgba = key_rgba[key]
    starts = np.cumsum([0, *sizes])
    result = []
    for g in range(len(kept)):
        chosen = group == g
        weights = areas[chosen] + 1e-12
        rgba = (triangle_rgba[chosen] * weights[:, None]).sum(axis=0) / weights.sum()
        parts = [np.nonzero(chosen[starts[i] : starts[i + 1]])[0] for i in range(len(sizes))]
        result.append((np.clip(rgba, 0.0, 1.0), parts))
    return result


# -- writing ---------------------------------------------------------------------------------------
def _write(folder: Path, name: str, plan: _Plan) -> None:
    """Write the low-detail URDF and its meshes into a new folder next to ``folder``, then move it there."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        for link in plan.links:
            _replace_visuals(link, building)
        for mesh in plan.root.iter("mesh"):  # every other mesh (collisions included) by its absolute path
            filename = mesh.get("filename", "")
            if not filename.startswith("low_"):
                found = _mesh_path(filename, plan.folder)
                if found is not None:
                    mesh.set("filename", str(found))
        (building / name).write_bytes(ET.tostring(plan.root, encoding="utf-8", xml_declaration=True))
        try:
            os.replace(building, folder)  # an empty target is replaced; a complete one (another process) stays
        except OSError:
            if not (folder / name).is_file():
                raise
    finally:
        if building.exists():
            shutil.rmtree(building, ignore_errors=True)


def _replace_visuals(link: _Link, folder: Path) -> None:
    """Swap a link's ``<visual>`` elements for one per colour group, drawn from the collision meshes."""
    element = link.element
    for visual in element.findall("visual"):
        element.remove(visual)
    name = element.get("name", "link")
    position = next((i for i, child in enumerate(element) if child.tag == "collision"), len(element))
    made = []
    for g, (rgba, parts) in enumerate(link.groups):
        for c, (shape, mesh, triangles) in enumerate(zip(link.collisions, link.meshes, parts, strict=True)):
            if len(triangles) == 0:
                continue
            filename = f"low_{_safe(name)}_{c}_{g}.obj"
            (folder / filename).write_bytes(obj_text(mesh.vertices, mesh.triangles[triangles]))
            visual = ET.Element("visual")
            origin = shape.element.find("origin")
            if origin is not None:
                visual.append(origin)
            geometry = ET.SubElement(visual, "geometry")
            ET.SubElement(geometry, "mesh", filename=filename, scale=" ".join(f"{s:.9g}" for s in shape.scale))
            material = ET.SubElement(visual, "material", name=f"dr_sim_low_{_safe(name)}_{g}")
            ET.SubElement(material, "color", rgba=" ".join(f"{v:.6f}" for v in rgba))
            made.append(visual)
    for offset, visual in enumerate(made):
        element.insert(position + offset, visual)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)


# -- what PyBullet draws ---------------------------------------------------------------------------
def visual_triangles(client_id: int, body: int) -> int:
    """Triangles of the mesh files a body's visual shapes draw (primitives count 0)."""
    shapes = p.getVisualShapeData(body, physicsClientId=client_id)
    return sum(triangle_count(shape[4].decode()) for shape in shapes if shape[2] == p.GEOM_MESH)


def reducible_links(client_id: int, body: int) -> list[tuple[int, int, int]]:
    """(link index, visual triangles, collision triangles) of each link of a loaded body whose collision
    meshes have at most ``REDUCTION`` of its visual triangles: what ``low`` would draw more cheaply."""
    visual: dict[int, int] = {}
    for shape in p.getVisualShapeData(body, physicsClientId=client_id):
        if shape[2] == p.GEOM_MESH:
            visual[shape[1]] = visual.get(shape[1], 0) + triangle_count(shape[4].decode())
    found = []
    for link, drawn in sorted(visual.items()):
        shapes = p.getCollisionShapeData(body, link, physicsClientId=client_id)
        if not shapes or any(shape[2] != p.GEOM_MESH for shape in shapes):
            continue
        simple = sum(triangle_count(shape[4].decode()) for shape in shapes)
        if 0 < simple <= REDUCTION * drawn:
            found.append((link, drawn, simple))
    return found


# -- third-party envs: choosing the detail where the env loads its URDFs ---------------------------
@contextlib.contextmanager
def loading_detail(render_detail: str) -> Iterator[None]:
    """Within this block, URDFs loaded through ``pybullet.loadURDF`` or a ``BulletClient`` are loaded at
    ``render_detail``: build a third-party env here to draw it in low detail, e.g.
    ``with loading_detail("low"): env = gym.make("PandaPush-v3")``. A URDF that is not found as a file
    (or in ``pybullet_data``) loads as it is. Not thread-safe: it swaps module and class attributes."""
    check_render_detail(render_detail)
    from pybullet_utils import bullet_client

    original: Callable[..., int] = p.loadURDF

    def load(fileName: str, *args: Any, **kwargs: Any) -> int:
        return original(urdf_for(fileName, render_detail), *args, **kwargs)

    def method(self: Any, fileName: str, *args: Any, **kwargs: Any) -> int:
        return original(urdf_for(fileName, render_detail), *args, physicsClientId=self._client, **kwargs)

    had_method = "loadURDF" in vars(bullet_client.BulletClient)
    previous_method = vars(bullet_client.BulletClient).get("loadURDF")
    p.loadURDF = load
    bullet_client.BulletClient.loadURDF = method  # type: ignore[attr-defined]
    try:
        yield
    finally:
        p.loadURDF = original
        if had_method:
            bullet_client.BulletClient.loadURDF = previous_method  # type: ignore[attr-defined]
        else:
            del bullet_client.BulletClient.loadURDF  # type: ignore[attr-defined]
