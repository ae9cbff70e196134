"""Policies and perception models trained on dr_sim scenes (installed as ``dr_sim.policies``)."""
