"""Anomaly-positive scorers, evaluation helpers and protocol splitters."""

from ._protocols import (
    FewShotSplit,
    LeaveOneSystemOut,
    NormalOnlySplit,
    balanced_normal_split,
    deduplicate_sessions,
    supervised_split,
)
from ._scorers import (
    anomaly_mask,
    anomaly_score,
    anomaly_scorer,
    evaluate,
    evaluate_predictions,
    predict_anomaly,
)

__all__ = [
    "FewShotSplit",
    "LeaveOneSystemOut",
    "NormalOnlySplit",
    "anomaly_mask",
    "anomaly_score",
    "anomaly_scorer",
    "balanced_normal_split",
    "deduplicate_sessions",
    "evaluate",
    "evaluate_predictions",
    "predict_anomaly",
    "supervised_split",
]
