"""Benchmarks: ``python -m sklog.benchmarks`` (see :mod:`sklog.benchmarks._registry`)."""
