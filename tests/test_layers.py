"""The import graph of dr_sim's own modules: no cycles, no arrow up the layer map, heavy imports only lazily.

Every module of ``dr_sim/``, ``envs/`` (installed as ``dr_sim.envs``) and ``policies/`` (as
``dr_sim.policies``) is parsed with ``ast``; its imports of dr_sim modules are collected, at the top of
the file and inside functions (``TYPE_CHECKING`` blocks do not count). ``from dr_sim.x import y`` is an
arrow to ``dr_sim.x.y`` when that is a module, else to ``dr_sim.x``.

- no cycle between modules;
- no arrow from a module to one of a higher layer of ``LAYERS`` (the same layer is allowed);
- nothing imports the bare ``dr_sim`` package (its ``__init__`` re-exports and registers the tasks; a
  module that needs the tasks registered calls ``dr_sim.registration.register_envs``);
- the data set, gap and adapt modules never import the ``preview`` command;
- a dr_sim module is imported inside a function only when it is heavy: it imports one of
  ``HEAVY_PACKAGES`` at its top, itself or through the dr_sim modules it imports at its top. Such an
  import carries a comment naming the extra it needs (``# needs torch (extra: train)``);
- heavy third-party packages are never imported inside a function: a light module reaches them
  through ``dr_sim.extras.require``, which names the pip extra when one is missing;
- the command line and the package root stay light (``dr-sim --help`` needs no torch).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dr_sim import extras

ROOT = Path(__file__).resolve().parents[1]
#: Package name -> its source folder.
SOURCES = {"dr_sim": ROOT / "dr_sim", "dr_sim.envs": ROOT / "envs", "dr_sim.policies": ROOT / "policies"}

#: The layer of each top-level module or subpackage of dr_sim, bottom (0) to top. A module may import
#: modules of its own layer or of lower ones.
LAYERS: dict[str, int] = {
    # 0 foundation: no dr_sim imports beyond this layer
    "errors": 0,
    "sampling": 0,
    "native_output": 0,
    "image_files": 0,
    "file_io": 0,
    "extras": 0,
    "statistics": 0,
    "camera_spread": 0,
    "arguments": 0,
    "param_records": 0,
    "run_files": 0,
    "run_cache": 0,
    "worker_pool": 0,
    "user_warnings": 0,
    "progress": 0,
    # 1 the randomization config
    "config": 1,
    "memory": 1,  # what a config allocates, checked before allocating
    # 2 the scene and its structure
    "scene": 2,
    "structure": 2,
    # 3 what randomizes it
    "randomizers": 3,
    "adr": 3,
    # 4 the engine and its wrappers
    "engine": 4,
    "session": 4,
    "wrapper": 4,
    # 5 the tasks and making envs by id
    "envs": 5,
    "registration": 5,
    "env_ids": 5,
    # 6 what users run
    "datasets": 6,
    "backends": 6,
    "ray_backend": 6,
    "policies": 6,
    "gap": 6,
    "adapt": 6,
    "bench": 6,
    "preview": 6,
    "gallery": 6,
    "pose": 6,  # keypoint pose through the calibrated camera (numpy, OpenCV)
    "detection": 6,  # COCO AP of box detections (numpy, pycocotools) and detection sheets
    "trajectories": 6,  # target-system trajectories: the format and dr-sim record
    "calibration": 6,  # dr-sim calibrate
    "rollout": 6,
    # 7 the command line
    "train_evaluate": 7,
    "cli": 7,
}
#: Third-party packages that only an extra installs (``dr_sim.extras.EXTRAS``), and slow to import.
HEAVY_PACKAGES = (
    "torch",
    "stable_baselines3",
    "sb3_contrib",
    "tensorboard",
    "matplotlib",
    "skimage",
    "ray",
    "pycocotools",
    "cma",
)
#: Modules that must import without any heavy package (``dr_sim.cli`` covers every command's parser).
LIGHT = (
    "dr_sim",
    "dr_sim.cli",
    "dr_sim.backends",
    "dr_sim.datasets.generate",
    "dr_sim.policies.rl_config",
    "dr_sim.policies.modular",
)
#: Subpackages that may not import the preview command.
BELOW_PREVIEW = ("dr_sim.datasets", "dr_sim.gap", "dr_sim.adapt")


@dataclass(frozen=True)
class Import:
    """One import statement's target: a dr_sim module (``dr_sim`` for the bare package) or a third-party
    top-level package, where it stands and whether it runs inside a function."""

    source: str
    target: str
    line: int
    lazy: bool
    own: bool


def module_files() -> dict[str, Path]:
    """Module name -> file, for every module of the three source folders."""
    found = {}
    for package, folder in SOURCES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


MODULES = module_files()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statements(node: ast.AST, lazy: bool = False) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement under ``node`` with whether it runs inside a function."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for other in child.orelse:
                yield from _statements(ast.Module(body=[other], type_ignores=[]), lazy)
            continue
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, lazy
        else:
            inner = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            yield from _statements(child, inner)


def _absolute(module: str, node: ast.ImportFrom) -> str:
    """The absolute module name of a ``from`` import (relative ones resolved against ``module``)."""
    if not node.level:
        return node.module or ""
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _own(name: str) -> bool:
    return name == "dr_sim" or name.startswith("dr_sim.")


def imports(module: str) -> list[Import]:
    """The imports of ``module``: dr_sim modules and third-party top-level packages."""
    tree = ast.parse(MODULES[module].read_text(), str(MODULES[module]))
    found = []
    for node, lazy in _statements(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = _absolute(module, node)
            if _own(base):
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
            else:
                targets = [base]
        for target in dict.fromkeys(targets):
            own = _own(target)
            found.append(Import(module, target if own else target.split(".")[0], node.lineno, lazy, own))
    return found


IMPORTS = {module: imports(module) for module in MODULES}


def _key(module: str) -> str:
    """The ``LAYERS`` key of a dr_sim module: its first name below ``dr_sim``."""
    return module.split(".")[1]


def _parents(module: str) -> list[str]:
    """The packages Python imports before ``module`` (``dr_sim.a.b``: ``dr_sim``, ``dr_sim.a``)."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def heavy_modules() -> dict[str, str]:
    """Module -> why it is heavy: it imports a heavy package at its top, or a heavy dr_sim module (or a
    package Python imports on the way to one)."""
    heavy: dict[str, str] = {}
    for module, found in IMPORTS.items():
        for item in found:
            if not item.lazy and not item.own and item.target in HEAVY_PACKAGES:
                heavy.setdefault(module, item.target)
    changed = True
    while changed:
        changed = False
        for module, found in IMPORTS.items():
            if module in heavy:
                continue
            for item in found:
                if item.lazy or not item.own:
                    continue
                reached = [item.target, *_parents(item.target)]
                cause = next((heavy[name] for name in reached if name in heavy), None)
                if cause is not None:
                    heavy[module] = cause
                    changed = True
                    break
    return heavy


HEAVY = heavy_modules()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _where(item: Import) -> str:
    return f"{MODULES[item.source].relative_to(ROOT)}:{item.line}"


def test_the_sources_are_found() -> None:
    assert {"dr_sim.cli", "dr_sim.envs.base", "dr_sim.policies.rl_training", "dr_sim.config.loader"} <= set(MODULES)
    assert not any(module.endswith("_study") for module in MODULES)  # the paper studies live in studies/


def test_the_library_never_imports_the_studies() -> None:
    upward = [
        f"{_where(item)} imports {item.target}"
        for found in IMPORTS.values()
        for item in found
        if item.target == "studies" or item.target.startswith("studies.")
    ]
    assert not upward, "the studies sit above the library, which is installed without them:\n" + "\n".join(upward)


def test_every_module_has_a_layer() -> None:
    missing = sorted({_key(module) for module in MODULES if module != "dr_sim" and _key(module) not in LAYERS})
    assert not missing, (
        f"dr_sim modules without a layer: {', '.join(missing)}; add them to the layer map LAYERS in "
        f"tests/test_layers.py (bottom 0 to top 7: a module may import its own layer and lower ones)"
    )


def test_imports_name_existing_modules() -> None:
    unknown = [
        f"{_where(item)} imports {item.target}"
        for found in IMPORTS.values()
        for item in found
        if item.own and item.target != "dr_sim" and item.target not in MODULES
    ]
    assert not unknown, "imports of dr_sim modules that do not exist:\n" + "\n".join(unknown)


def test_no_import_cycles() -> None:
    graph = {
        module: {item.target for item in found if item.own and item.target != module and item.target in MODULES}
        for module, found in IMPORTS.items()
    }
    cycles = _cycles(graph)
    assert not cycles, "import cycles between dr_sim modules (move the shared part into a lower module):\n" + (
        "\n".join(" <-> ".join(cycle) for cycle in cycles)
    )


def test_nothing_imports_the_bare_package() -> None:
    bare = [_where(item) for found in IMPORTS.values() for item in found if item.target == "dr_sim"]
    assert not bare, (
        "these import the bare dr_sim package; import the module that holds the name (the tasks register "
        "with dr_sim.registration.register_envs()):\n" + "\n".join(bare)
    )


def test_no_arrow_points_up_the_layers() -> None:
    upward = []
    for module, found in IMPORTS.items():
        if module == "dr_sim" or _key(module) not in LAYERS:
            continue
        for item in found:
            if not item.own or item.target == "dr_sim" or _key(item.target) not in LAYERS:
                continue
            source, target = LAYERS[_key(module)], LAYERS[_key(item.target)]
            if target > source:
                upward.append(f"{_where(item)}: {module} (layer {source}) imports {item.target} (layer {target})")
    assert not upward, "imports against the layer map (move the shared part down):\n" + "\n".join(upward)


def test_data_gap_and_adapt_never_import_the_preview_command() -> None:
    found = [
        _where(item)
        for module, items in IMPORTS.items()
        if module.startswith(BELOW_PREVIEW)
        for item in items
        if item.target == "dr_sim.preview"
    ]
    assert not found, "import dr_sim.file_io (or env_ids, param_records), not dr_sim.preview:\n" + "\n".join(found)


def test_in_function_imports_are_of_heavy_modules_only() -> None:
    needless, silent = [], []
    for module, found in IMPORTS.items():
        lines = MODULES[module].read_text().splitlines()
        for item in found:
            if not item.lazy or not item.own:
                continue
            if item.target not in HEAVY:
                needless.append(f"{_where(item)}: {item.target}")
            elif not any("(extra:" in lines[line - 1] for line in (item.line - 1, item.line) if line > 0):
                silent.append(f"{_where(item)}: {item.target} (heavy through {HEAVY[item.target]})")
    assert not needless, "in-function imports of light dr_sim modules; import them at the top:\n" + "\n".join(needless)
    assert not silent, "name the extra a lazy import needs (# needs torch (extra: train)):\n" + "\n".join(silent)


def test_heavy_packages_are_reached_through_extras() -> None:
    assert set(HEAVY_PACKAGES) == set(extras.EXTRAS)
    lazy = [
        f"{_where(item)}: {item.target}"
        for found in IMPORTS.values()
        for item in found
        if item.lazy and not item.own and item.target in HEAVY_PACKAGES
    ]
    assert not lazy, "use dr_sim.extras.require(...) instead of importing these in a function:\n" + "\n".join(lazy)


@pytest.mark.parametrize("module", LIGHT)
def test_the_command_line_stays_light(module: str) -> None:
    assert module in MODULES
    assert module not in HEAVY, f"{module} imports {HEAVY.get(module)} at import time (through its top imports)"


def test_the_readme_names_every_module() -> None:
    """The README's "How it works" names every module of the package by its file (``session.py``)."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## How it works") : readme.index("## Command line")]
    missing = sorted(
        str(path.relative_to(ROOT))
        for path in MODULES.values()
        if path.name != "__init__.py" and f"{path.stem}.py" not in section and f"`{path.stem}`" not in section
    )
    assert not missing, "modules the README's layer list does not name:\n" + "\n".join(missing)
