"""Adapting to a new system from few labelled sessions: episodic (meta-)learning."""

from ._adapt import FewShotAdapter, FitMemory, SystemSession, session_systems, tag_sessions
from ._maml import MAMLClassifier
from ._protonet import ProtoNetClassifier
from ._transfer import DriftLabelTransfer

__all__ = ["DriftLabelTransfer", "FewShotAdapter", "FitMemory", "MAMLClassifier",
           "ProtoNetClassifier", "SystemSession", "session_systems", "tag_sessions"]
