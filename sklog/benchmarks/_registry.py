"""The registry of benchmark cells: each method module adds its rows here.

A cell is one (dataset, protocol, method) row of the results table. A module
under :mod:`sklog.benchmarks.cells` calls :func:`register` for the rows it
wants; every method of :data:`sklog.methods.METHODS` that no registered row
measures on raw HDFS gets a default row (:func:`default_cells`), so a new
method is benchmarked from its registry entry alone and the harness never
changes for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..methods import METHODS, get_method

#: Where a method without rows of its own is measured, with default settings.
DEFAULT_DATASET, DEFAULT_PROTOCOL = "hdfs_raw", "natural"


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
    method_name : str or None
        The :mod:`sklog.methods` name of the method the row measures (with
        any settings), e.g. ``"alogscan"``; ``None`` for rows of no
        registered method.
    """

    dataset: str
    protocol: str
    method: str
    build: Callable
    quick: bool = True
    threshold_rule: str = ""
    method_name: str | None = None


CELLS: list[BenchmarkCell] = []


def register(dataset, protocol, method, *, quick=True, threshold_rule=None, method_name=None):
    """Decorator registering ``build(random_state)`` as a benchmark cell.

    ``threshold_rule`` defaults to the rule of the :mod:`sklog.methods` entry
    ``method_name`` (empty without one).
    """
    if threshold_rule is None:
        threshold_rule = get_method(method_name).threshold_rule if method_name else ""

    def decorator(build):
        CELLS.append(BenchmarkCell(dataset, protocol, method, build, quick, threshold_rule,
                                   method_name))
        return build

    return decorator


def build_for_dataset(method, dataset, random_state, **params):
    """``method`` as ``dataset``'s sessions need it: raw lines get a ``DrainTemplater`` first.

    Datasets of raw-line sessions (:data:`~sklog.benchmarks._data.TEMPLATERS`:
    ``hdfs_raw``, ``thunderbird_2k``) get the method after a ``DrainTemplater``
    with that dataset's settings (a loghub preset); any other dataset's
    sessions are template strings already and get the method alone.

    Parameters
    ----------
    method : sklog.methods.Method
        E.g. ``get_method("pca")``.
    dataset : str
    random_state : int, RandomState instance or None
    **params
        Keyword arguments of the method's factory.

    Returns
    -------
    estimator : estimator or Pipeline

    Examples
    --------
    >>> from sklog.methods import get_method
    >>> from sklog.benchmarks._registry import build_for_dataset
    >>> pipe = build_for_dataset(get_method("pca"), "thunderbird_2k", 0)
    >>> pipe.steps[0][1].similarity_threshold
    0.5
    >>> type(build_for_dataset(get_method("pca"), "bgl_seq", 0)).__name__
    'PCADetector'
    >>> [name for name, _ in build_for_dataset(get_method("clad"), "bgl_raw", 0).steps]
    ['bytewindower', 'clad']
    """
    from ._data import TEMPLATERS

    settings = TEMPLATERS.get(dataset)
    if settings is None:
        return method.build(random_state, **params)
    pipeline = method.build_pipeline(log_format=settings["log_format"],
                                     random_state=random_state, **params)
    extra = {f"draintemplater__{k}": v for k, v in settings.items()
             if k != "log_format" and method.templater}  # CLAD reads raw lines itself
    return pipeline.set_params(**extra) if extra else pipeline


def default_cells(cells):
    """A default row for every method of :data:`sklog.methods.METHODS` that ``cells`` lack.

    A method has no row of its own when no cell on ``DEFAULT_DATASET`` and
    ``DEFAULT_PROTOCOL`` names it (``method_name``) or bears its label. Its
    default row is ``DrainTemplater(log_format="HDFS")`` followed by the method
    with its default settings, under its label, in the full run only.

    Parameters
    ----------
    cells : list of BenchmarkCell

    Returns
    -------
    defaults : list of BenchmarkCell
    """
    here = [c for c in cells if (c.dataset, c.protocol) == (DEFAULT_DATASET, DEFAULT_PROTOCOL)]
    covered = {c.method_name for c in here} | {c.method for c in here}
    defaults = []
    for name, method in METHODS.items():
        if name in covered or method.label in covered:
            continue

        def build(random_state, method=method):
            return method.build_pipeline(log_format="HDFS", random_state=random_state)

        defaults.append(BenchmarkCell(DEFAULT_DATASET, DEFAULT_PROTOCOL, method.label, build,
                                      False, method.threshold_rule, name))
    return defaults
