"""Plots: 2-D maps of session embeddings (matplotlib is imported only when plotting)."""

from ._embedding import plot_embedding

__all__ = ["plot_embedding"]
