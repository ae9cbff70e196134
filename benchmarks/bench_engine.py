"""Run ``dr-sim bench`` without the console script: ``python benchmarks/bench_engine.py [--json] [--only ...]``.

See ``dr_sim.bench`` for the families, their figures and goals.
"""

from __future__ import annotations

import sys

from dr_sim.bench import main

if __name__ == "__main__":
    sys.exit(main())
