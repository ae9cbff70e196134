"""Trajectories of a target system: the file format (``format``), its spaces (``spaces``), and
``dr-sim record`` (``record``), which writes them from any env in simulation."""

from dr_sim.trajectories.format import Trajectory, TrajectorySet, read_trajectories, write_episode, write_index

__all__ = ["Trajectory", "TrajectorySet", "read_trajectories", "write_episode", "write_index"]
