"""sklog's joblib parallelism on a cluster, without code changes (issue #12).

``with joblib.parallel_backend("dask"):`` (or ``"ray"``) around unchanged code
sends ``DrainTemplater(n_jobs=...).transform``'s chunks and ``GridSearchCV``'s
fits and scores to a cluster's worker processes; the results must equal a local
run. The Dask cluster is a ``LocalCluster`` of two workers reached over TCP on
127.0.0.1, so estimators, sessions and results really are pickled, as between
machines. The Ray test starts a local Ray instance
and is marked slow (Ray takes seconds to start); both skip where their extra
(``scikit-log[dask]``, ``scikit-log[ray]``) is not installed.
"""

from __future__ import annotations

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline

from sklog.baselines import InvariantsMiner, LogClustering, PCADetector
from sklog.datasets import load_hdfs_sample
from sklog.feature_extraction import TemplateCounter
from sklog.metrics import NormalOnlySplit, anomaly_scorer
from sklog.preprocessing import DrainTemplater


@pytest.fixture(scope="module")
def hdfs_blocks():
    """165 raw HDFS blocks of the bundled sample (150 normal, 15 anomalous)."""
    X, y = load_hdfs_sample(return_X_y=True)
    idx = np.r_[np.flatnonzero(y == 0)[:150], np.flatnonzero(y == 1)[:15]]
    return [X[i] for i in idx], y[idx]


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    # Workers in this process, but reached over TCP on 127.0.0.1: every task and result
    # is pickled as between machines, without seconds spent starting worker processes.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        yield client


def _executed_on_workers(client):
    """Tasks the cluster's workers have run so far."""
    return sum(client.run(lambda dask_worker: dask_worker.state.executed_count).values())


def _supervised_search(n_jobs=None):
    pipe = make_pipeline(DrainTemplater("HDFS"), TemplateCounter(),
                         LogisticRegression(max_iter=1000))
    grid = {"templatecounter__tfidf": [False, True], "logisticregression__C": [0.01, 100.0]}
    return GridSearchCV(pipe, grid, cv=StratifiedKFold(3, shuffle=True, random_state=0),
                        scoring="average_precision", error_score="raise", n_jobs=n_jobs)


def _detector_search(n_jobs=None, drain_jobs=None):
    # refit=False: a refit on all of X would teach the detector the anomalies too
    pipe = Pipeline([("drain", DrainTemplater("HDFS", n_jobs=drain_jobs)),
                     ("detector", PCADetector())])
    grid = {"detector": [PCADetector(), InvariantsMiner(), LogClustering()]}
    scoring = {"f1": anomaly_scorer("f1"), "ap": anomaly_scorer("average_precision")}
    return GridSearchCV(pipe, grid, cv=NormalOnlySplit(n_splits=2, random_state=0),
                        scoring=scoring, refit=False, error_score="raise", n_jobs=n_jobs)


def _nested_search(n_jobs=None):
    # DrainTemplater(n_jobs=2) inside a search: under Dask its chunks are tasks of their own
    # (slow only because the local reference run starts joblib's worker processes)
    return _detector_search(n_jobs, drain_jobs=2)


def _assert_same_search(local, remote, X):
    if hasattr(local, "best_index_"):
        assert remote.best_index_ == local.best_index_
        assert remote.best_params_ == local.best_params_
        np.testing.assert_array_equal(remote.predict(X), local.predict(X))
    scores = [key for key in local.cv_results_ if "_test_" in key]
    assert scores and sorted(scores) == sorted(k for k in remote.cv_results_ if "_test_" in k)
    for key in scores:
        assert np.isfinite(local.cv_results_[key]).all(), key
        np.testing.assert_allclose(remote.cv_results_[key], local.cv_results_[key],
                                   rtol=0, atol=1e-12, err_msg=key)


def test_drain_transform_chunks_run_on_dask_workers(dask_client, hdfs_blocks):
    X, _ = hdfs_blocks
    templater = DrainTemplater("HDFS").fit(X)
    serial = templater.transform(X)
    templater.set_params(n_jobs=2)
    before = _executed_on_workers(dask_client)
    with joblib.parallel_backend("dask"):
        chunked = templater.transform(X)
    assert _executed_on_workers(dask_client) > before
    assert chunked == serial


@pytest.mark.parametrize("make_search", [
    pytest.param(_supervised_search, id="logistic_regression"),
    pytest.param(_detector_search, id="count_detectors"),
    pytest.param(_nested_search, id="nested_drain_chunks", marks=pytest.mark.slow),
])
def test_grid_search_on_dask_equals_local(dask_client, hdfs_blocks, make_search):
    X, y = hdfs_blocks
    local = make_search().fit(X, y)
    before = _executed_on_workers(dask_client)
    with joblib.parallel_backend("dask"):
        remote = make_search(n_jobs=-1).fit(X, y)
    # the fits ran on the workers (joblib may batch several fits into one task)
    assert _executed_on_workers(dask_client) > before
    best = max(local.cv_results_[key].max() for key in local.cv_results_
               if key.startswith("mean_test_"))
    assert best > 0.8  # the anomalies (ERROR lines, unseen templates) are easy to find
    _assert_same_search(local, remote, X)


@pytest.mark.slow
def test_ray_backend_equals_local(hdfs_blocks):
    ray = pytest.importorskip("ray")
    ray_joblib = pytest.importorskip("ray.util.joblib")
    X, y = hdfs_blocks
    templater = DrainTemplater("HDFS").fit(X)
    serial = templater.transform(X)
    local = _supervised_search().fit(X, y)
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        ray_joblib.register_ray()
        with joblib.parallel_backend("ray"):
            chunked = templater.set_params(n_jobs=2).transform(X)
            remote = _supervised_search(n_jobs=-1).fit(X, y)
    finally:
        ray.shutdown()
    assert chunked == serial
    _assert_same_search(local, remote, X)
