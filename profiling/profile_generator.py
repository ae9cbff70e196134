"""Profile the image generator: ``python profiling/profile_generator.py [--images N] [--visibility V]``.

Renders ``--images`` images of the default generator config (``dr_sim/Localize-v0``, 64 px, ``visual``)
with ``ImageSource`` under pyinstrument (``pip install pyinstrument``; not a dependency of dr_sim) and
prints the call tree with the ms per image. ``profiling/README.md`` records what it showed.
"""

from __future__ import annotations

import argparse
import sys
import time

from dr_sim.arguments import fail, positive_int
from dr_sim.datasets.config import GeneratorConfig, load_generator_config, resolved_dict
from dr_sim.datasets.source import ImageSource
from dr_sim.native_output import quiet_native_stdout

WARMUP = 5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--images", type=positive_int, default=200, help="images profiled (default 200)")
    parser.add_argument("--visibility", choices=("none", "target", "all"), default="target")
    args = parser.parse_args(argv)
    try:
        from pyinstrument import Profiler
    except ImportError:
        return fail("profiling needs pyinstrument: pip install pyinstrument")
    raw = {"image_size": 64, "randomization": "visual", "seed": 0, "visibility": args.visibility}
    config = GeneratorConfig.model_validate(resolved_dict(load_generator_config(raw)))
    with quiet_native_stdout():
        source = ImageSource(config)
    try:
        for index in range(WARMUP):
            source.render(index)
        profiler = Profiler(interval=0.0005)
        start = time.perf_counter()
        with profiler:
            for index in range(WARMUP, WARMUP + args.images):
                source.render(index)
        seconds = time.perf_counter() - start
    finally:
        source.close()
    print(f"{seconds / args.images * 1e3:.2f} ms per image (profiled)")
    print(profiler.output_text(unicode=False, color=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
