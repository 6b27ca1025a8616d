"""scikit-log: log anomaly detection with the scikit-learn API.

Estimators are imported lazily, so ``import sklog`` stays fast and never
loads torch until a neural method is used.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0.dev0"

# public name -> module that defines it
_LAZY = {
    "DrainTemplater": "sklog.preprocessing",
    "TemplateCounter": "sklog.feature_extraction",
    "ALogSCAN": "sklog.alogscan",
    "SiameseClassifier": "sklog.siamese",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sklog' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY])


__all__ = ["__version__", *_LAZY]
