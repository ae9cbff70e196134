"""Benchmark dr_sim's wrapper against unwrapped baselines: ``python benchmarks/bench_engine.py [--json]``.

The same as ``dr-sim bench``; see ``dr_sim.bench`` for the three figures and their goals.
"""

from __future__ import annotations

import sys

from dr_sim.bench import main

if __name__ == "__main__":
    sys.exit(main())
