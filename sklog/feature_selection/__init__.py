"""Selecting features that carry the label: mutual information and forest importance ranks."""

from ._mutual_info import MutualInfoSelector

__all__ = ["MutualInfoSelector"]
