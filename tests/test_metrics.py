import numpy as np
import pytest
from sklearn.ensemble import IsolationForest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV

from sklog.metrics import (
    LeaveOneSystemOut,
    NormalOnlySplit,
    anomaly_mask,
    anomaly_score,
    anomaly_scorer,
    deduplicate_sessions,
    evaluate,
    evaluate_predictions,
    supervised_split,
)


@pytest.fixture()
def blobs():
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(0, 1, (95, 2)), rng.normal(8, 1, (5, 2))]
    y = np.r_[np.zeros(95, int), np.ones(5, int)]
    return X, y


def test_anomaly_mask_conventions():
    assert anomaly_mask([0, 1, 1]).tolist() == [False, True, True]
    assert anomaly_mask([1, -1, 1]).tolist() == [False, True, False]
    assert anomaly_mask(["ok", "bad"], pos_label="bad").tolist() == [False, True]


def test_detector_scorer_counts_anomalies_not_normal_sessions(blobs):
    X, y = blobs
    detector = IsolationForest(contamination=0.05, random_state=0).fit(X)
    f1 = anomaly_scorer("f1")(detector, X, y)
    assert f1 == pytest.approx(1.0)
    # the plain sklearn scorer on detector output would treat "+1 = normal" as positive
    assert anomaly_scorer("average_precision")(detector, X, y) == pytest.approx(1.0)
    assert (anomaly_score(detector, X)[y == 1].min() > anomaly_score(detector, X)[y == 0].max())


def test_classifier_scorer_and_grid_search(blobs):
    X, y = blobs
    search = GridSearchCV(
        LogisticRegression(), {"C": [0.01, 1.0]}, scoring=anomaly_scorer("f1"), cv=3
    ).fit(X, y)
    assert search.best_score_ == pytest.approx(1.0)
    assert anomaly_scorer("roc_auc")(search.best_estimator_, X, y) == pytest.approx(1.0)


def test_unknown_scorer_name():
    with pytest.raises(ValueError, match="Unknown anomaly metric"):
        anomaly_scorer("accuracy")


def test_evaluate_fields(blobs):
    X, y = blobs
    res = evaluate(IsolationForest(contamination=0.05, random_state=0).fit(X), X, y)
    assert res["n_anomalies"] == 5 and res["n_sessions"] == 100
    assert res["f1"] == pytest.approx(1.0) and res["pr_auc"] == pytest.approx(1.0)
    res = evaluate_predictions([0, 1, 1, 0], [0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8])
    assert res["precision"] == pytest.approx(0.5) and res["recall"] == pytest.approx(0.5)


def test_deduplicate_then_split_leaves_no_test_sequence_in_training():
    X = [["a"], ["b"], ["a"], ["c"], ["d"], ["b"], ["e"], ["f"], ["g"], ["h"]] * 3
    y = [0, 1, 0, 0, 1, 1, 0, 0, 1, 0] * 3
    assert deduplicate_sessions(X, y).tolist() == [0, 1, 3, 4, 6, 7, 8, 9]
    train, test = supervised_split(X, y, test_size=0.25, deduplicate=True, random_state=0)
    train_keys = {tuple(X[i]) for i in train}
    assert not train_keys & {tuple(X[i]) for i in test}


@pytest.mark.parametrize("ratio", ["natural", "balanced"])
def test_normal_only_split(ratio):
    y = np.r_[np.zeros(180, int), np.ones(20, int)]
    train, test = next(NormalOnlySplit(test=ratio, random_state=0).split(np.arange(200), y))
    assert (y[train] == 0).all()
    assert not set(train) & set(test)
    assert y[test].sum() == 4  # stratified: 20% of the anomalies are in the test part
    if ratio == "balanced":
        assert len(test) == 8
    else:
        assert len(test) == 40
    again = next(NormalOnlySplit(test=ratio, random_state=0).split(np.arange(200), y))
    assert np.array_equal(again[1], test)


def test_leave_one_system_out():
    groups = ["HDFS", "BGL", "HDFS", "Spark"]
    splits = list(LeaveOneSystemOut().split(np.zeros((4, 1)), groups=groups))
    assert len(splits) == 3
    for train, test in splits:
        assert len({groups[i] for i in test}) == 1
        assert {groups[i] for i in test}.isdisjoint({groups[i] for i in train})
