"""Triangle meshes as PyBullet reads them: Wavefront OBJ (with its MTL texture) and STL, read with numpy.

Only what render detail needs: vertices (in the file's units, metres for the arms of ``pybullet_data``),
triangles (polygons fanned into triangles, as PyBullet does), per-triangle texture coordinates, and the
first ``map_Kd`` texture of the OBJ's material library, the one texture PyBullet draws a mesh with.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

_STL_HEADER = 80  # bytes before a binary STL's triangle count
_STL_TRIANGLE = 50  # bytes per binary STL triangle


@dataclass(frozen=True)
class Mesh:
    """A triangle mesh.

    ``vertices`` (N, 3) float64; ``triangles`` (T, 3) vertex indices; ``uv`` (T, 3, 2) texture coordinates of
    each corner (NaN where a face has none) or ``None``; ``texture`` the RGB image (uint8 H x W x 3) the mesh
    is drawn with, or ``None``; ``diffuse`` (T, 3) the diffuse colour (``Kd``, in [0, 1]) of each triangle's
    material, or ``None``.
    """

    vertices: np.ndarray
    triangles: np.ndarray
    uv: np.ndarray | None = None
    texture: np.ndarray | None = None
    diffuse: np.ndarray | None = None

    def centroids(self) -> np.ndarray:
        """(T, 3) centre of each triangle."""
        return self.vertices[self.triangles].mean(axis=1)

    def areas(self) -> np.ndarray:
        """(T,) area of each triangle (square units of the vertices)."""
        corners = self.vertices[self.triangles]
        return 0.5 * np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1)

    def triangle_colors(self) -> np.ndarray:
        """(T, 3) colour in [0, 1] of each triangle: its material's diffuse colour times the texture at its mean
        texture coordinate (white where there is no texture, or a face has no texture coordinates)."""
        diffuse = np.ones((len(self.triangles), 3)) if self.diffuse is None else self.diffuse
        if self.uv is None or self.texture is None:
            return diffuse
        height, width = self.texture.shape[:2]
        uv = self.uv.mean(axis=1)
        textured = ~np.isnan(uv).any(axis=1)
        uv = np.where(textured[:, None], uv, 0.0) % 1.0
        cols = np.clip((uv[:, 0] * width).astype(int), 0, width - 1)
        rows = np.clip(((1.0 - uv[:, 1]) * height).astype(int), 0, height - 1)
        colors = self.texture[rows, cols].astype(np.float64) / 255.0
        return diffuse * np.where(textured[:, None], colors, 1.0)


def triangle_count(path: str | Path) -> int:
    """Triangles PyBullet draws for a mesh file (OBJ polygons fanned; STL binary or ASCII); 0 if unknown."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".obj":
        count = 0
        with path.open("rb") as file:
            for line in file:
                if line.startswith(b"f "):
                    count += len(line.split()) - 3
        return count
    if suffix == ".stl":
        data = path.read_bytes()
        if data[:5].lower() == b"solid" and b"facet" in data[:1000]:
            return data.count(b"facet normal")
        return struct.unpack_from("<I", data, _STL_HEADER)[0] if len(data) >= _STL_HEADER + 4 else 0
    return 0


def read_mesh(path: str | Path) -> Mesh:
    """The mesh of an OBJ or STL file (see ``Mesh``)."""
    path = Path(path)
    if path.suffix.lower() == ".stl":
        return _read_stl(path)
    if path.suffix.lower() != ".obj":
        raise ValueError(f"{path}: only .obj and .stl meshes are read, not {path.suffix!r}")
    return _read_obj(path)


def obj_text(vertices: np.ndarray, triangles: np.ndarray) -> bytes:
    """The OBJ text (bytes) of a plain triangle mesh with only the vertices its ``triangles`` use, and no
    material (its colour comes from the URDF)."""
    used = np.unique(triangles)
    index = np.full(len(vertices), -1, dtype=np.int64)
    index[used] = np.arange(len(used))
    lines = ["# dr_sim render-detail mesh", *(f"v {x:.9g} {y:.9g} {z:.9g}" for x, y, z in vertices[used])]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in index[triangles]]
    return ("\n".join(lines) + "\n").encode()


def _read_obj(path: Path) -> Mesh:
    vertex_lines: list[str] = []
    coord_lines: list[str] = []
    face_lines: list[str] = []
    face_materials: list[str] = []
    material = ""
    library = None
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("v "):
            vertex_lines.append(line[2:])
        elif line.startswith("vt "):
            coord_lines.append(line[3:])
        elif line.startswith("f "):
            face_lines.append(line[2:])
            face_materials.append(material)
        elif line.startswith("usemtl "):
            material = line[7:].strip()
        elif line.startswith("mtllib ") and library is None:
            library = path.parent / line.split(None, 1)[1].strip()
    vertices = _numbers(vertex_lines, 3, np.float64)
    coords = _numbers(coord_lines, 2, np.float64)
    corners, counts = _face_corners(face_lines)
    vertex = np.where(corners[:, 0] > 0, corners[:, 0] - 1, len(vertices) + corners[:, 0])
    coord = np.where(corners[:, 1] > 0, corners[:, 1] - 1, np.where(corners[:, 1] < 0, len(coords) + corners[:, 1], -1))
    # A fan per polygon, as PyBullet triangulates: (first, i, i + 1) for i in 1 .. n - 2.
    fans = np.maximum(counts - 2, 0)
    first = np.repeat(np.cumsum(counts) - counts, fans)
    second = first + 1 + np.arange(int(fans.sum())) - np.repeat(np.cumsum(fans) - fans, fans)
    fan = np.stack([first, second, second + 1], axis=1).astype(np.int64)
    triangles = vertex[fan].reshape(-1, 3)
    uv_index = coord[fan].reshape(-1, 3)
    uv = None
    if len(coords) and len(uv_index):  # NaN for the corners of faces written without texture coordinates
        uv = np.where((uv_index >= 0)[..., None], coords[np.maximum(uv_index, 0)], np.nan)
    texture, colors = _materials(library) if library is not None else (None, {})
    diffuse = None
    if colors:
        names = sorted(set(face_materials))
        table = np.array([colors.get(name, (1.0, 1.0, 1.0)) for name in names], dtype=np.float64)
        lookup = {name: i for i, name in enumerate(names)}
        face_diffuse = table[np.array([lookup[name] for name in face_materials], dtype=np.int64)]
        diffuse = np.repeat(face_diffuse, fans, axis=0)
    return Mesh(vertices, triangles, uv, texture, diffuse)


def _numbers(lines: list[str], width: int, dtype: type) -> np.ndarray:
    """The first ``width`` numbers of each line, as an (N, width) array."""
    if not lines:
        return np.zeros((0, width), dtype=dtype)
    flat = np.fromstring(" ".join(lines), dtype=dtype, sep=" ")
    if len(flat) == len(lines) * width:
        return flat.reshape(-1, width)
    return np.array([[float(x) for x in line.split()[:width]] for line in lines], dtype=dtype)


def _face_corners(lines: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """((corners, 2) vertex and texture-coordinate references as written, 1-based or negative, 0 for none;
    (faces,) corners per face) of OBJ face lines."""
    counts = np.array([len(line.split()) for line in lines], dtype=np.int64)
    tokens = " ".join(lines).split()
    slashes = {token.count("/") for token in tokens[:1000]}
    if slashes == {0} and "/" not in lines[0] if lines else False:
        flat = np.fromstring(" ".join(tokens), dtype=np.int64, sep=" ")
        if len(flat) == len(tokens):
            return np.stack([flat, np.zeros_like(flat)], axis=1), counts
    joined = " ".join(tokens).replace("//", "/0/")
    if len(slashes) == 1 and joined.count("/") == len(tokens) * max(1, slashes.pop()) and "/" in joined:
        fields = joined.count("/") // len(tokens) + 1
        flat = np.fromstring(joined.replace("/", " "), dtype=np.int64, sep=" ").reshape(-1, fields)
        return flat[:, :2], counts
    corners = np.zeros((len(tokens), 2), dtype=np.int64)
    for i, token in enumerate(tokens):
        parts = token.split("/")
        corners[i, 0] = int(parts[0])
        corners[i, 1] = int(parts[1]) if len(parts) > 1 and parts[1] else 0
    return corners, counts


def _materials(library: Path) -> tuple[np.ndarray | None, dict[str, tuple[float, float, float]]]:
    """(the RGB image of the first ``map_Kd``, or ``None``; material name -> ``Kd``) of a material library."""
    if not library.is_file():
        return None, {}
    colors: dict[str, tuple[float, float, float]] = {}
    texture_name = None
    name = ""
    for line in library.read_text(errors="replace").splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "newmtl":
            name = line.strip()[7:].strip()
        elif parts[0] == "Kd" and len(parts) >= 4:
            colors[name] = (float(parts[1]), float(parts[2]), float(parts[3]))
        elif parts[0] == "map_Kd" and texture_name is None:
            texture_name = parts[-1]
    texture = _texture_path(library.parent, texture_name) if texture_name else None
    image = cv2.imread(str(texture), cv2.IMREAD_COLOR) if texture is not None else None
    return (None if image is None else np.ascontiguousarray(image[:, :, ::-1])), colors


def _texture_path(folder: Path, name: str) -> Path | None:
    """The texture file ``name`` of a material library in ``folder``: as written, else by its file name
    beside the library (exporters write absolute paths of the machine that made them, Windows ones
    too); ``None`` when neither exists."""
    for candidate in (folder / name, folder / re.split(r"[\\/]", name)[-1]):
        if candidate.is_file():
            return candidate
    return None


def _read_stl(path: Path) -> Mesh:
    data = path.read_bytes()
    if data[:5].lower() == b"solid" and b"facet" in data[:1000]:
        numbers = re.findall(rb"vertex\s+(\S+)\s+(\S+)\s+(\S+)", data)
        corners = np.asarray(numbers, dtype=np.float64).reshape(-1, 3, 3)
    else:
        count = struct.unpack_from("<I", data, _STL_HEADER)[0]
        record = np.dtype([("normal", "<f4", 3), ("corners", "<f4", (3, 3)), ("attribute", "<u2")])
        corners = np.frombuffer(data, dtype=record, count=count, offset=_STL_HEADER + 4)["corners"].astype(np.float64)
    vertices = corners.reshape(-1, 3)
    return Mesh(vertices, np.arange(len(vertices), dtype=np.int64).reshape(-1, 3))
