"""Tabletop tasks built on dr_sim (installed as ``dr_sim.envs``)."""
