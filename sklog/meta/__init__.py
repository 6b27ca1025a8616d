"""Adapting to a new system from few labelled sessions: episodic (meta-)learning."""

from ._maml import MAMLClassifier
from ._protonet import ProtoNetClassifier
from ._transfer import DriftLabelTransfer

__all__ = ["DriftLabelTransfer", "MAMLClassifier", "ProtoNetClassifier"]
