"""Structured against uniform domain randomization (Prakash et al. 2019's shape) on the Localize scene."""
