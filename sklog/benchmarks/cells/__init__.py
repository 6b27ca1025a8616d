"""Benchmark rows, one module per method (imported by the harness)."""
