"""The registry of benchmark cells: each method module adds its rows here.

A cell is one (dataset, protocol, method) row of the results table. Method
issues add a module under :mod:`sklog.benchmarks.cells` that calls
:func:`register`; the harness never changes for a new method.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class BenchmarkCell:
    """One row of the benchmark table.

    Attributes
    ----------
    dataset : str
        A dataset name known to the harness (``"hdfs_raw"``, ``"hdfs_deeplog"``,
        ``"bgl_seq"``, ...).
    protocol : str
        A protocol name known to the harness (``"natural"``, ``"balanced"``,
        ``"supervised"``, ...).
    method : str
        The row label.
    build : callable
        ``build(random_state) -> estimator``: an unfitted estimator or pipeline.
        Detectors are fitted on the normal training sessions only, classifiers
        on all training sessions with labels.
    quick : bool
        Whether the row runs under ``--quick``.
    threshold_rule : str
        How the decision threshold is set, in words (recorded in the row).
    """

    dataset: str
    protocol: str
    method: str
    build: Callable
    quick: bool = True
    threshold_rule: str = ""


CELLS: list[BenchmarkCell] = []


def register(dataset, protocol, method, *, quick=True, threshold_rule=""):
    """Decorator registering ``build(random_state)`` as a benchmark cell."""

    def decorator(build):
        CELLS.append(BenchmarkCell(dataset, protocol, method, build, quick, threshold_rule))
        return build

    return decorator
