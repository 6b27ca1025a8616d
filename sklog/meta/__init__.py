"""Adapting to a new system from few labelled sessions: episodic (meta-)learning."""

from ._maml import MAMLClassifier
from ._protonet import ProtoNetClassifier

__all__ = ["MAMLClassifier", "ProtoNetClassifier"]
