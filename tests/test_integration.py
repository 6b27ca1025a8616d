"""Foundation acceptance: a templater + counter + classifier pipeline on real logs.

GridSearchCV with the anomaly scorer, a joblib round trip with identical
predictions, and bad input that gets a clear error or a documented safe result.
"""

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline

from sklog.datasets import load_hdfs_sample
from sklog.feature_extraction import TemplateCounter
from sklog.metrics import anomaly_scorer, evaluate
from sklog.preprocessing import DrainTemplater
from sklog.utils import LineTruncationWarning


@pytest.fixture(scope="module")
def hdfs_split():
    X, y = load_hdfs_sample(return_X_y=True)
    # a stratified quarter keeps the test fast and every anomaly type represented
    X_small, _, y_small, _ = train_test_split(X, y, train_size=1200, stratify=y, random_state=0)
    return train_test_split(X_small, y_small, test_size=0.3, stratify=y_small, random_state=0)


def _pipeline():
    return make_pipeline(
        DrainTemplater(log_format="HDFS"), TemplateCounter(), LogisticRegression(max_iter=500)
    )


def test_grid_search_with_anomaly_scorer_and_joblib_round_trip(hdfs_split, tmp_path):
    X_train, X_test, y_train, y_test = hdfs_split
    search = GridSearchCV(
        _pipeline(),
        {"logisticregression__C": [0.01, 10.0]},
        scoring=anomaly_scorer("f1"),
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
    ).fit(X_train, y_train)
    assert search.best_score_ >= 0.8  # cross-validated F1 on the anomaly class
    result = evaluate(search.best_estimator_, X_test, y_test)
    assert result["f1"] >= 0.9 and result["pr_auc"] >= 0.9

    path = tmp_path / "pipeline.joblib"
    joblib.dump(search.best_estimator_, path)
    loaded = joblib.load(path)
    assert np.array_equal(loaded.predict(X_test), search.best_estimator_.predict(X_test))
    assert np.allclose(
        loaded.predict_proba(X_test), search.best_estimator_.predict_proba(X_test)
    )


def test_bad_input_gets_clear_errors_or_safe_results(hdfs_split):
    X_train, _, y_train, _ = hdfs_split
    pipe = _pipeline().fit(X_train, y_train)
    with pytest.raises(TypeError, match="sequence of sessions"):
        pipe.predict("081109 203615 148 INFO dfs.DataNode$PacketResponder: one line")
    with pytest.raises(TypeError, match="raw text"):
        pipe.predict(np.zeros((2, 3)))
    # an empty session and a non-UTF-8 line are valid sessions with a prediction each,
    # and the undecodable line is still counted (decoded with replacement, not dropped)
    odd = [[], [b"081109 203615 148 INFO dfs.DataNode: Receiving block blk_1 \xff\xfe"]]
    assert np.asarray(pipe[:-1].transform(odd).sum(axis=1)).ravel().tolist() == [0, 1]
    proba = pipe.predict_proba(odd)
    assert proba.shape == (2, 2) and np.isfinite(proba).all()
    # a multi-megabyte line is truncated with a warning, not a crash, and counted once
    huge = [["081109 203615 148 INFO dfs.DataNode: " + "x" * 3_000_000]]
    with pytest.warns(LineTruncationWarning):
        assert pipe[:-1].transform(huge).sum() == 1
    with pytest.warns(LineTruncationWarning):
        assert pipe.predict_proba(huge).shape == (1, 2)
