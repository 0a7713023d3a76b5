"""Lifelines' benchmarks: ``make bench`` (``python -m bench.run``) prints every figure beside its target."""
