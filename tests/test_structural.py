"""StructuralFeatures: length, variety, novelty and severity words of a session, no labels."""

from __future__ import annotations

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import FeatureUnion

from sklog.datasets import load_hdfs_sample
from sklog.feature_extraction import BertEmbedder, StructuralFeatures
from sklog.preprocessing import DrainTemplater


@pytest.fixture(scope="module")
def hdfs_templates():
    X, y = load_hdfs_sample(return_X_y=True)
    X, y = X[:400], y[:400]
    return DrainTemplater("HDFS").fit_transform(X), y


def test_columns_by_hand():
    features = StructuralFeatures(severity_words=["error", "fail"], rare_count=2)
    features.fit([["a", "b", "a"], ["a", "c"]])
    out = features.transform([["a", "a", "b"], ["Failed to open", "new ERROR", "c"], []])
    p = np.array([2, 1]) / 3
    np.testing.assert_allclose(out[0], [3, 2, 0, 1 / 3, -(p * np.log(p)).sum(), 0, 0])
    np.testing.assert_allclose(out[1], [3, 3, 2 / 3, 1 / 3, np.log(3), 1, 1])
    np.testing.assert_array_equal(out[2], np.zeros(7))  # an empty session
    assert features.get_feature_names_out().tolist()[-2:] == ["count_error", "count_fail"]


def test_no_feature_uses_labels(hdfs_templates):
    X, y = hdfs_templates
    unlabeled = StructuralFeatures().fit(X).transform(X)
    for labels in (y, 1 - y, np.zeros_like(y)):
        np.testing.assert_array_equal(StructuralFeatures().fit(X, labels).transform(X),
                                      unlabeled)


def test_a_forest_finds_hdfs_anomalies_from_these_features_alone():
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline

    X, y = load_hdfs_sample(return_X_y=True)
    templates = DrainTemplater("HDFS").fit_transform(X[:2000])
    model = make_pipeline(StructuralFeatures(),
                          RandomForestClassifier(n_estimators=50, random_state=0))
    f1 = cross_val_score(model, templates, y[:2000], scoring="f1",
                         cv=StratifiedKFold(3, shuffle=True, random_state=0))
    assert f1.mean() > 0.8


def test_feature_union_with_sentence_vectors(hdfs_templates, tmp_path):
    X, _ = hdfs_templates
    union = FeatureUnion([("text", BertEmbedder(device="cpu")),
                          ("structure", StructuralFeatures(severity_words=["exception"]))])
    out = union.fit_transform(X[:50])
    assert out.shape == (50, 384 + 6)
    joblib.dump(union, tmp_path / "u.joblib")
    np.testing.assert_allclose(joblib.load(tmp_path / "u.joblib").transform(X[:50]), out,
                               rtol=1e-5)
    assert clone(union).get_params()["structure__severity_words"] == ["exception"]


def test_bad_severity_words():
    with pytest.raises(ValueError, match="non-empty strings"):
        StructuralFeatures(severity_words=["error", ""]).fit([["a"]])
