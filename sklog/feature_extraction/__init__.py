"""Session features: template counts and sentence-embedding (BERT) session vectors."""

from ._bert import BertEmbedder
from ._counter import TemplateCounter

__all__ = ["BertEmbedder", "TemplateCounter"]
