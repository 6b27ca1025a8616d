import numpy as np
import pytest
from sklearn.ensemble import IsolationForest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from sklog.metrics import (
    LeaveOneSystemOut,
    NormalOnlySplit,
    anomaly_mask,
    anomaly_score,
    anomaly_scorer,
    balanced_normal_split,
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


@pytest.fixture()
def overlapping():
    """Anomalies overlap normal data: the scores of the two classes differ (0.6 vs 0.96 F1)."""
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(0, 1, (90, 2)), rng.normal(2.5, 1, (10, 2))]
    y = np.r_[np.zeros(90, int), np.ones(10, int)]
    return X, y


def test_anomaly_mask_conventions():
    assert anomaly_mask([0, 1, 1]).tolist() == [False, True, True]
    assert anomaly_mask([1, -1, 1]).tolist() == [False, True, False]
    assert anomaly_mask(["ok", "bad"], pos_label="bad").tolist() == [False, True]


def test_detector_scorer_counts_anomalies_not_normal_sessions(blobs, overlapping):
    X, y = blobs
    detector = IsolationForest(contamination=0.05, random_state=0).fit(X)
    assert (anomaly_score(detector, X)[y == 1].min() > anomaly_score(detector, X)[y == 0].max())
    # where the classes overlap, the anomaly-class metrics differ from the normal-class ones
    X, y = overlapping
    detector = IsolationForest(contamination=0.1, random_state=0).fit(X)
    flagged = detector.predict(X) == -1
    f1 = anomaly_scorer("f1")(detector, X, y)
    assert f1 == pytest.approx(f1_score(y, flagged)) == pytest.approx(0.6)
    assert f1_score(y, flagged, pos_label=0) > 0.95  # what scoring the normal class gives
    ap = anomaly_scorer("average_precision")(detector, X, y)
    assert ap == pytest.approx(average_precision_score(y, -detector.score_samples(X)))
    assert ap < 0.7 < average_precision_score(1 - y, detector.score_samples(X))


def test_classifier_scorer_and_grid_search(overlapping):
    X, y = overlapping
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    grid = [0.01, 1.0]
    search = GridSearchCV(
        LogisticRegression(), {"C": grid}, scoring=anomaly_scorer("f1"), cv=cv
    ).fit(X, y)
    # every fold's score is the anomaly-class F1 of that fold, computed by hand
    for i, (train, test) in enumerate(cv.split(X, y)):
        for j, C in enumerate(grid):
            pred = LogisticRegression(C=C).fit(X[train], y[train]).predict(X[test])
            assert search.cv_results_[f"split{i}_test_score"][j] == pytest.approx(
                f1_score(y[test], pred, zero_division=0))
    # C=0.01 never predicts the rare class: worthless by anomaly F1, though it scores
    # above 0.9 on the normal class; the search must pick C=1
    assert search.cv_results_["mean_test_score"][0] == 0.0
    assert search.best_params_ == {"C": 1.0} and search.best_score_ > 0.3
    best = search.best_estimator_
    auc = anomaly_scorer("roc_auc")(best, X, y)
    assert auc == pytest.approx(roc_auc_score(y, best.predict_proba(X)[:, 1])) and auc > 0.8


def test_unknown_scorer_name():
    with pytest.raises(ValueError, match="Unknown anomaly metric"):
        anomaly_scorer("accuracy")


def test_evaluate_fields(overlapping):
    X, y = overlapping
    detector = IsolationForest(contamination=0.1, random_state=0).fit(X)
    res = evaluate(detector, X, y)
    assert res["n_anomalies"] == 10 and res["n_sessions"] == 100
    assert res["f1"] == pytest.approx(f1_score(y, detector.predict(X) == -1))
    scores = -detector.score_samples(X)
    assert res["pr_auc"] == pytest.approx(average_precision_score(y, scores))
    assert res["roc_auc"] == pytest.approx(roc_auc_score(y, scores))
    # 2 of 3 alerts are anomalies and both anomalies are caught: precision 2/3, recall 1
    # (the normal class would give precision 1, recall 3/4)
    res = evaluate_predictions([0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 1],
                               [0.1, 0.2, 0.3, 0.9, 0.8, 0.7])
    assert res["precision"] == pytest.approx(2 / 3) and res["recall"] == pytest.approx(1.0)
    assert res["f1"] == pytest.approx(0.8) and res["roc_auc"] == pytest.approx(6 / 8)
    assert np.isnan(evaluate_predictions([0, 0], [0, 1], [0.1, 0.2])["pr_auc"])


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


def test_balanced_normal_split_is_mlad_protocol():
    rng = np.random.RandomState(1)
    y = (rng.rand(500) < 0.1).astype(int)
    train, test = balanced_normal_split(y, random_state=0)
    anomalies = np.flatnonzero(y == 1)
    assert set(anomalies) <= set(test)  # every anomaly is tested
    assert np.sum(y[test] == 1) == np.sum(y[test] == 0) == len(anomalies)  # 1:1
    assert not np.any(y[train] == 1)  # no anomaly in training
    assert not set(train) & set(test)
    assert sorted(np.r_[train, test].tolist()) == list(range(500))  # every other normal trains
    assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
    again = balanced_normal_split(y, random_state=0)
    other = balanced_normal_split(y, random_state=1)
    assert np.array_equal(again[1], test) and not np.array_equal(other[1], test)
    # detector labels (-1 anomaly) and no anomaly at all
    assert np.array_equal(balanced_normal_split(np.where(y == 1, -1, 1), random_state=0)[1], test)
    train, test = balanced_normal_split([0, 0, 0], random_state=0)
    assert train.tolist() == [0, 1, 2] and test.tolist() == []
    with pytest.raises(ValueError, match="2 anomalous but only 1 normal"):
        balanced_normal_split([1, 1, 0])


def test_leave_one_system_out():
    groups = ["HDFS", "BGL", "HDFS", "Spark"]
    splits = list(LeaveOneSystemOut().split(np.zeros((4, 1)), groups=groups))
    assert len(splits) == 3
    for train, test in splits:
        assert len({groups[i] for i in test}) == 1
        assert {groups[i] for i in test}.isdisjoint({groups[i] for i in train})
