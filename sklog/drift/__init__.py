"""Drift monitoring on session embeddings: when do the logs no longer fit the model?"""

from ._monitor import DriftMonitor

__all__ = ["DriftMonitor"]
