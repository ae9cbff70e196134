"""PyBullet's EGL renderer plugin: when it renders a randomized scene correctly, and loading it.

What was found with PyBullet 3.2.7 (Mesa llvmpipe on the CPU):

- The plugin must be loaded right after connecting, before any body: bodies loaded earlier are not
  drawn. Once loaded it serves every ``getCameraImage`` call of that client, whatever ``renderer``
  asks; ``unloadPlugin`` hands rendering back to TinyRenderer.
- One client per process: a second client with the plugin loaded at the same time renders empty
  images on both. Loading it again after the first client is closed works.
- Segmentation, depth and ``rgbaColor`` (colors and the tints multiplied into textures) work, and
  OpenGL samples pixel centres where TinyRenderer samples corners (``Camera.projection_matrix``).
- Textures assigned by ``changeVisualShape(textureUniqueId=...)`` show the wrong image: the plugin
  numbers textures in its own list, where the textures of every URDF loaded before come first, so
  pool texture ``k`` shows another texture. ``changeTexture`` reaches neither renderer.
- Of the light arguments only ``lightDirection`` is used, and it stays until the next call that
  passes it. Light color is applied in image space (``Camera.render``); distance, ambient, diffuse
  and specular coefficients and shadows are ignored.
- Labels replay exactly (the same segmentation and depth for the same state), but RGB keeps a trace of
  earlier frames: after rendering another state, about 2% of the pixels of a 64 px image of the same
  state differed by up to 42 levels (TinyRenderer replays bit for bit). Data sets that must be
  reproducible image for image should keep TinyRenderer, the default.
- On llvmpipe it is slower than TinyRenderer below about 200 px and faster above (``dr-sim bench``).

So EGL renders a config correctly when it draws no pool textures and randomizes no light argument
besides direction and color (``unsupported``).
"""

from __future__ import annotations

import functools
import importlib.util
import re
from dataclasses import dataclass

import pybullet as p

from dr_sim.config.schema import DRConfig
from dr_sim.errors import ConfigError
from dr_sim.native_output import captured_native_stdout

RENDERERS = ("auto", "tiny", "egl")
#: Image size (pixels) from which EGL on a software driver (llvmpipe) beats TinyRenderer.
SOFTWARE_MIN_SIZE = 256
#: Light direction passed when the scene sets none (EGL keeps the last direction it was given).
DEFAULT_LIGHT_DIRECTION = (0.5, 0.5, 1.0)
#: Lighting terms that EGL ignores (the light color is applied in image space instead).
IGNORED_LIGHT_TERMS = ("distance", "ambient", "diffuse", "specular")

_loaded: dict[int, int] = {}  # client id -> plugin id (at most one: the plugin serves one client per process)


@dataclass(frozen=True)
class Choice:
    """The renderer a client uses (``tiny`` or ``egl``), and why (empty when as asked)."""

    renderer: str
    reason: str = ""


def serves(client_id: int) -> bool:
    """Whether the EGL plugin renders this client's images."""
    return client_id in _loaded


def unsupported(config: DRConfig) -> list[str]:
    """What in ``config`` EGL would render wrongly (empty: EGL gives the same randomized images' labels)."""
    problems = [
        f"appearance[{i}] draws pool textures (EGL shows other textures for their ids)"
        for i, entry in enumerate(config.appearance)
        if entry.textures is not None
    ]
    lighting = config.lighting
    if lighting is not None:
        ignored = [name for name in IGNORED_LIGHT_TERMS if getattr(lighting, name) is not None]
        if lighting.shadow_probability > 0:
            ignored.append("shadow_probability")
        if ignored:
            problems.append(f"lighting randomizes {', '.join(ignored)} (EGL ignores them)")
    return problems


def choose(requested: str, config: DRConfig, client_id: int, image_size: int) -> Choice:
    """Load the plugin on ``client_id`` (connected, no bodies yet) when ``requested`` calls for it.

    ``tiny`` loads nothing. ``egl`` loads it unless the config needs what EGL renders wrongly, another
    client holds it or it does not load: then TinyRenderer, with the reason. ``auto`` loads it in the
    same cases where it is faster: a hardware driver (``probe_driver``), or ``image_size`` (pixels) of at
    least ``SOFTWARE_MIN_SIZE`` on a software one.
    """
    if requested not in RENDERERS:
        raise ConfigError(f"renderer must be one of {RENDERERS}, got {requested!r}")
    if requested == "tiny":
        return Choice("tiny")
    problems = unsupported(config)
    if problems:
        return Choice("tiny", f"EGL would render this config wrongly: {'; '.join(problems)}")
    if _loaded:
        return Choice("tiny", f"EGL already renders PyBullet client {next(iter(_loaded))} (one client per process)")
    if requested == "auto":
        driver = probe_driver()
        if driver is None:
            return Choice("tiny", "the eglRenderer plugin does not load here")
        if is_software(driver) and image_size < SOFTWARE_MIN_SIZE:
            return Choice(
                "tiny", f"{driver} is a software driver, slower than TinyRenderer below {SOFTWARE_MIN_SIZE} px"
            )
    loaded, driver = _load(client_id)
    if not loaded:
        return Choice("tiny", f"the eglRenderer plugin did not load ({driver})")
    return Choice("egl")


@functools.cache
def probe_driver() -> str | None:
    """The GL_RENDERER string of the EGL driver (loaded once on a throwaway client), ``None`` if none loads.

    A throwaway client, because unloading the plugin from a client before its bodies are loaded leaves
    that client rendering empty images."""
    client_id = p.connect(p.DIRECT)
    try:
        loaded, driver = _load(client_id)
        release(client_id)
    finally:
        p.disconnect(client_id)
    return driver if loaded else None


def is_software(driver: str) -> bool:
    """Whether an OpenGL renderer string names a software rasterizer."""
    return bool(re.search(r"llvmpipe|softpipe|swrast|software", driver, re.IGNORECASE))


def release(client_id: int) -> None:
    """Unload the plugin from ``client_id`` (if it is loaded and the client still connected)."""
    plugin = _loaded.pop(client_id, None)
    if plugin is not None and p.isConnected(client_id):
        p.unloadPlugin(plugin, physicsClientId=client_id)


def _load(client_id: int) -> tuple[bool, str]:
    """(loaded, the driver's GL_RENDERER string or why it failed)."""
    spec = importlib.util.find_spec("eglRenderer")
    path = spec.origin if spec is not None else None
    if path is None:
        return False, "pybullet has no eglRenderer module"
    with captured_native_stdout() as printed:
        plugin = p.loadPlugin(path, "_eglRendererPlugin", physicsClientId=client_id)
    text = printed.text
    if plugin < 0:
        return False, "no EGL display or driver"
    _loaded[client_id] = plugin
    match = re.search(r"GL_RENDERER=(.*)", text)
    return True, match.group(1).strip() if match else "unknown driver"
