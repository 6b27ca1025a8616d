"""scikit-learn's own estimator checks, plus session-aware checks, on every public estimator.

Each estimator family adds itself to ``CHECKED`` with tiny settings (so the
whole module runs in seconds on CPU) and lists in ``EXPECTED_FAILED_CHECKS``
any scikit-learn check that cannot apply, with the reason.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import parametrize_with_checks

import sklog
from sklog.feature_extraction import TemplateCounter

# Reasons shared by every estimator whose rows are sessions of tokens.
VARIABLE_LENGTH = (
    "rows are sessions of variable length: a different number of columns is valid input, "
    "so there is no fixed n_features_in_"
)
SESSIONS = {
    "check_n_features_in_after_fitting": VARIABLE_LENGTH,
    "check_n_features_in": VARIABLE_LENGTH,
}
TRANSFORMER_SESSIONS = {
    **SESSIONS,
    "check_transformer_general": VARIABLE_LENGTH,
    "check_transformer_general(readonly_memmap=True)": VARIABLE_LENGTH,
}

# name -> estimator instance with tiny settings
CHECKED = {
    "TemplateCounter": TemplateCounter(),
}

# name -> {check name: reason it cannot apply}
EXPECTED_FAILED_CHECKS = {
    "TemplateCounter": {**TRANSFORMER_SESSIONS},
}


def _public_estimator_classes():
    found = {}
    for info in pkgutil.walk_packages(sklog.__path__, "sklog."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue
        if info.name.startswith(("sklog.benchmarks", "sklog.cli")):
            continue
        module = importlib.import_module(info.name)
        for name, obj in inspect.getmembers(module, inspect.isclass):
            if (issubclass(obj, BaseEstimator) and obj.__module__.startswith("sklog")
                    and not name.startswith("_")):
                found[name] = obj
    return found


def test_every_public_estimator_is_checked():
    missing = sorted(set(_public_estimator_classes()) - set(CHECKED))
    assert not missing, f"add these estimators to CHECKED in tests/test_common.py: {missing}"


@parametrize_with_checks(
    list(CHECKED.values()),
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(type(est).__name__, {}),
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("name", sorted(CHECKED))
def test_rejects_bare_string(name):
    est = CHECKED[name]
    with pytest.raises(TypeError, match="sequence of sessions"):
        est.fit("just one line of log")
