"""Benchmarks timing hwgen against named baselines in the same run."""
