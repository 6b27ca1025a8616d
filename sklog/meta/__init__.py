"""Adapting to a new system from few labelled sessions: episodic (meta-)learning."""

from ._adapt import (
    UNLABELLED,
    FewShotAdapter,
    FitMemory,
    SystemSession,
    em_prior,
    session_systems,
    tag_sessions,
)
from ._maml import MAMLClassifier
from ._protonet import ProtoNetClassifier
from ._transfer import DriftLabelTransfer

__all__ = ["UNLABELLED", "DriftLabelTransfer", "FewShotAdapter", "FitMemory", "MAMLClassifier",
           "ProtoNetClassifier", "SystemSession", "em_prior", "session_systems", "tag_sessions"]
