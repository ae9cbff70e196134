"""Tobin et al. 2017's perception ablation (Table II shape) on the Localize scene."""
