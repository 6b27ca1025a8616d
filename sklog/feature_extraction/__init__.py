"""Session features: template counts, sentence-embedding (BERT) session vectors, structure."""

from ._bert import BertEmbedder
from ._counter import TemplateCounter
from ._structural import SEVERITY_WORDS, StructuralFeatures

__all__ = ["BertEmbedder", "SEVERITY_WORDS", "StructuralFeatures", "TemplateCounter"]
