"""Sim-to-sim adaptation (RCAN, James et al. 2019's shape) on the perception study's held-out domain."""
