"""Session features: template counts (and, with the MLAD/meta issues, BERT vectors)."""

from ._counter import TemplateCounter

__all__ = ["TemplateCounter"]
