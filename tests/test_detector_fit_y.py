"""Detectors warn when ``fit`` is given anomalies in ``y`` (issue 14 item 5)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.model_selection import cross_val_score

from sklog.baselines import InvariantsMiner, LogClustering, PCADetector
from sklog.metrics import NormalOnlySplit, anomaly_scorer

DETECTORS = [PCADetector, InvariantsMiner, LogClustering]


def _no_warning(call):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        return call()


@pytest.mark.parametrize("detector", DETECTORS)
def test_fit_with_anomalies_in_y_warns(detector, toy_template_sessions):
    X, y = toy_template_sessions
    with pytest.warns(UserWarning, match=r"fit was given y with 10 anomalies \(label 1\): a "
                                         r"detector ignores y and learns from every row"):
        detector().fit(X, y)
    _no_warning(lambda: detector().fit(X))
    _no_warning(lambda: detector().fit(X[:30], np.zeros(30, dtype=int)))


def test_alogscan_fit_with_anomalies_in_y_warns(toy_template_sessions):
    pytest.importorskip("torch")
    from sklog.alogscan import ALogSCAN

    X, y = toy_template_sessions
    with pytest.warns(UserWarning, match="ALogSCAN.fit was given y with 10 anomalies"):
        ALogSCAN(max_epochs=1, max_samples=None).fit(X, y)


def test_normal_only_split_does_not_warn(toy_template_sessions):
    X, y = toy_template_sessions
    with pytest.warns(UserWarning, match="NormalOnlySplit"):
        cross_val_score(PCADetector(), X, y, cv=3, scoring=anomaly_scorer("f1"))
    scores = _no_warning(lambda: cross_val_score(
        PCADetector(), X, y, cv=NormalOnlySplit(n_splits=3, random_state=0),
        scoring=anomaly_scorer("f1")))
    assert np.isfinite(scores).all()
