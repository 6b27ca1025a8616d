"""Classic log anomaly detection baselines on template counts, with loglizer parity.

Detectors (fitted on normal sessions, ``OutlierMixin``): :class:`PCADetector`,
:class:`InvariantsMiner`, :class:`LogClustering`. Supervised baselines are
ordinary pipelines built by the ``make_*`` factories.
"""

from ._clustering import LogClustering
from ._invariants import InvariantsMiner
from ._pca import PCADetector, q_statistic_threshold
from ._supervised import (
    make_decision_tree,
    make_hist_gradient_boosting,
    make_linear_svc,
    make_logistic_regression,
)

__all__ = [
    "InvariantsMiner",
    "LogClustering",
    "PCADetector",
    "make_decision_tree",
    "make_hist_gradient_boosting",
    "make_linear_svc",
    "make_logistic_regression",
    "q_statistic_threshold",
]
