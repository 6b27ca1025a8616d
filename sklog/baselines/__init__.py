"""Classic log anomaly detection baselines on template counts, with loglizer parity.

Detectors (fitted on normal sessions, ``OutlierMixin``): :class:`PCADetector`,
:class:`InvariantsMiner`, :class:`LogClustering`; :class:`NoveltyDetector` counts the
words never seen in training (raw lines or templates). Supervised baselines are
ordinary pipelines built by the ``make_*`` factories.
"""

from ._clustering import LogClustering
from ._invariants import InvariantsMiner
from ._novelty import NOVELTY_MASKING, NoveltyDetector
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
    "NOVELTY_MASKING",
    "NoveltyDetector",
    "PCADetector",
    "make_decision_tree",
    "make_hist_gradient_boosting",
    "make_linear_svc",
    "make_logistic_regression",
    "q_statistic_threshold",
]
