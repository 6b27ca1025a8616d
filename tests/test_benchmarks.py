"""The benchmark harness: fitting rule, row fields, outputs, filters, protocols."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, OutlierMixin

from sklog.benchmarks import (
    BenchmarkCell,
    DatasetCache,
    Split,
    _harness,
    make_split,
    markdown_table,
    run,
    run_cell,
    select_cells,
    summarize,
)
from sklog.benchmarks import _registry as registry
from sklog.benchmarks._data import DataUnavailable

ROW_FIELDS = {
    "dataset", "protocol", "method", "precision", "recall", "f1", "pr_auc", "roc_auc",
    "fit_seconds", "predict_sessions_per_second", "peak_memory_mb", "memory_measure", "device",
    "seed", "threshold_rule", "session_rule", "split_rule", "n_train", "n_test",
    "n_test_anomalies", "n_fit", "error",
}


class SpyDetector(OutlierMixin, BaseEstimator):
    """Flags sessions holding 'error'; remembers exactly what ``fit`` was given."""

    def fit(self, X, y=None):
        self.fit_X_ = [tuple(s) for s in X]
        self.fit_y_ = y
        self.offset_ = -0.5
        return self

    def score_samples(self, X):
        return -np.array([sum(t == "error" for t in s) for s in X], dtype=float)

    def decision_function(self, X):
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        return np.where(self.decision_function(X) < 0, -1, 1)


class SpyClassifier(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        self.fit_X_ = [tuple(s) for s in X]
        self.fit_y_ = np.asarray(y)
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        p = np.array([float("error" in s) for s in X])
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


class Broken(SpyDetector):
    def fit(self, X, y=None):
        raise RuntimeError("boom")


def _tiny_data(n_normal=40, n_anomalous=10):
    """Sessions that are all distinct (a unique id token), anomalies hold 'error'."""
    X = [["open", f"id{i}", "close"] for i in range(n_normal)]
    X += [["open", f"id{n_normal + i}", "error"] for i in range(n_anomalous)]
    y = np.array([0] * n_normal + [1] * n_anomalous)
    return {"X": X, "y": y, "source": "in-memory test data"}


class _Cache:
    def __init__(self, data):
        self.data = data

    def get(self, name):
        return self.data


@pytest.mark.parametrize("estimator_cls", [SpyDetector, SpyClassifier])
def test_fit_sees_only_training_part(estimator_cls):
    split = make_split("hdfs_raw", "natural", _tiny_data(), seed=3)
    cell = BenchmarkCell("hdfs_raw", "natural", "spy", lambda rs: estimator_cls(), True, "rule")
    row, model, scores = run_cell(cell, split, 3, keep=True)
    test = {tuple(s) for s in split.X_test}
    assert not set(model.fit_X_) & test
    assert set(model.fit_X_) <= {tuple(s) for s in split.X_train}
    if estimator_cls is SpyDetector:  # detectors: normal training sessions only, no labels
        assert model.fit_y_ is None
        assert all("error" not in s for s in model.fit_X_)
        assert row["n_fit"] == int(np.sum(split.y_train == 0))
        assert row["kind"] == "detector"
    else:  # classifiers: all training sessions with their labels
        assert len(model.fit_X_) == len(split.X_train)
        np.testing.assert_array_equal(model.fit_y_, split.y_train)
        assert model.fit_y_.sum() > 0
    assert ROW_FIELDS <= set(row)
    assert row["error"] is None
    assert row["f1"] == row["precision"] == row["recall"] == 1.0
    assert row["pr_auc"] == pytest.approx(1.0)
    assert row["n_test"] == 10 and row["n_test_anomalies"] == 2
    assert row["seed"] == 3 and row["threshold_rule"] == "rule" and row["device"] == "cpu"
    assert row["fit_seconds"] >= 0 and row["predict_sessions_per_second"] > 0
    assert row["peak_memory_mb"] > 0
    assert len(scores) == len(split.X_test)


def test_natural_split_is_stratified_and_disjoint():
    data = _tiny_data(80, 20)
    split = make_split("hdfs_raw", "natural", data, seed=0)
    assert len(split.X_test) == 20 and split.y_test.sum() == 4  # 80/20, natural ratio kept
    assert len(split.X_train) == 80 and split.y_train.sum() == 16
    assert not {tuple(s) for s in split.X_train} & {tuple(s) for s in split.X_test}
    np.testing.assert_array_equal([data["X"][i] for i in split.test_index], split.X_test)
    again = make_split("hdfs_raw", "natural", data, seed=0)
    assert again.X_test == split.X_test
    assert make_split("hdfs_raw", "natural", data, seed=1).X_test != split.X_test


def test_failing_cell_is_recorded_and_run_continues(monkeypatch):
    cells = [BenchmarkCell("hdfs_raw", "natural", "broken", lambda rs: Broken()),
             BenchmarkCell("hdfs_raw", "natural", "spy", lambda rs: SpyDetector())]
    messages = []
    rows = run(cells, seeds=(0,), cache=_Cache(_tiny_data()), progress=messages.append)
    assert [r["method"] for r in rows] == ["broken", "spy"]
    assert rows[0]["error"] == "RuntimeError: boom" and math.isnan(rows[0]["f1"])
    assert rows[1]["error"] is None and rows[1]["f1"] == 1.0
    assert len(messages) == 2 and "ERROR" in messages[0] and "F1 1.000" in messages[1]


def test_missing_data_is_an_error_row(tmp_path):
    cells = [BenchmarkCell("bgl_seq", "balanced", "spy", lambda rs: SpyDetector())]
    rows = run(cells, cache=DatasetCache(tmp_path), progress=lambda m: None)
    assert rows[0]["error"].startswith("DataUnavailable") and "bgl" in rows[0]["error"]


def test_sources(tmp_path):
    bundled = DatasetCache(tmp_path, "bundled").get("hdfs_raw")
    assert len(bundled["X"]) == 4000 and int(bundled["y"].sum()) == 106
    assert bundled["source"] == "sklog.datasets.load_hdfs_sample()"
    with pytest.raises(DataUnavailable, match="use --data-dir"):
        DatasetCache(tmp_path, "bundled").get("bgl_seq")
    with pytest.raises(DataUnavailable, match="missing data file"):
        DatasetCache(tmp_path, "data-dir").get("hdfs_raw")


def test_main_writes_json_and_markdown_with_repeat(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(registry, "CELLS", [])
    registry.register("hdfs_raw", "natural", "spy-detector", threshold_rule="offset -0.5")(
        lambda rs: SpyDetector())
    registry.register("hdfs_raw", "natural", "spy-classifier", quick=False)(
        lambda rs: SpyClassifier())
    monkeypatch.setattr(_harness, "load_cells", lambda: list(registry.CELLS))
    monkeypatch.setattr(_harness, "DatasetCache",
                        lambda data_dir, source="auto": _Cache(_tiny_data()))
    out = tmp_path / "res"
    code = _harness.main(["--quick", "--repeat", "2", "--seed", "5", "--out", str(out),
                          "--data-dir", str(tmp_path)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "spy-detector" in printed and "spy-classifier" not in printed  # quick=False skipped
    results = json.loads((out / "results.json").read_text())
    assert [r["seed"] for r in results["rows"]] == [5, 6]
    (summary,) = results["summary"]
    assert summary["n_runs"] == 2 and summary["f1"] == 1.0 and summary["f1_std"] == 0.0
    assert results["meta"]["quick"] is True and results["meta"]["seeds"] == [5, 6]
    markdown = (out / "results.md").read_text()
    assert "| hdfs_raw | natural | spy-detector | 1.000 ± 0.000 |" in markdown
    assert "offset -0.5" in markdown


def test_select_cells_filters():
    cells = [BenchmarkCell("hdfs_raw", "natural", "PCA", None),
             BenchmarkCell("bgl_seq", "balanced", "ALogSCAN", None, quick=False),
             BenchmarkCell("bgl_seq", "supervised", "LogisticRegression", None)]
    assert [c.method for c in select_cells(cells, datasets="bgl")] == [
        "ALogSCAN", "LogisticRegression"]
    assert [c.method for c in select_cells(cells, methods="pca,logistic")] == [
        "PCA", "LogisticRegression"]
    assert [c.method for c in select_cells(cells, quick=True)] == ["PCA", "LogisticRegression"]
    assert select_cells(cells, protocols="natural", methods="alogscan") == []


def test_markdown_table_marks_errors():
    rows = [{"dataset": "d", "protocol": "p", "method": "m", "seed": 0, "error": "ValueError: x",
             "precision": float("nan"), "recall": float("nan"), "f1": float("nan"),
             "pr_auc": float("nan"), "roc_auc": float("nan")}]
    table = markdown_table(summarize(rows))
    assert "error: ValueError: x" in table and table.count("\n") == 3


def test_list_runs_as_a_module(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sklog.benchmarks", "--list"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    listed = proc.stdout
    # every method's rows are there: a cells module that stopped registering would show
    for row in ("hdfs_raw      natural     full  ALogSCAN\n",
                "hdfs_deeplog  supervised  quick Siamese LSTM (K+1 pairs)\n",
                "bgl_seq       balanced    quick PCA\n"):
        assert row in listed
    assert "unknown dataset/protocol" not in listed


def test_hdfs_deeplog_protocol_on_real_data(shared_data):
    data = DatasetCache(shared_data).get("hdfs_deeplog")
    split = make_split("hdfs_deeplog", "supervised", data, seed=0)
    pairs_train = {(tuple(s), int(y)) for s, y in zip(split.X_train, split.y_train, strict=True)}
    pairs_test = {(tuple(s), int(y)) for s, y in zip(split.X_test, split.y_test, strict=True)}
    assert not pairs_train & pairs_test  # deduplicated before the split
    assert len(pairs_test) == len(split.X_test)
    ratio = split.info["n_test"] / (split.info["n_test"] + split.info["n_train"])
    assert ratio == pytest.approx(0.1, abs=0.01)
    assert all(isinstance(t, str) and not t.isdigit() for t in split.X_train[0])


def test_validation_never_touches_the_test_part(monkeypatch, tmp_path):
    """``--validation`` re-splits the training part; no test session is fitted or scored."""
    data = _tiny_data(80, 20)
    split = make_split("hdfs_raw", "natural", data, seed=0)
    test = {tuple(s) for s in split.X_test}
    seen = []

    class Recorder(SpyClassifier):
        def fit(self, X, y):
            seen.extend(tuple(s) for s in X)
            return super().fit(X, y)

        def predict_proba(self, X):
            seen.extend(tuple(s) for s in X)
            return super().predict_proba(X)

    cell = BenchmarkCell("hdfs_raw", "natural", "rec", lambda rs: Recorder())
    (row,) = run([cell], cache=_Cache(data), validation=True, progress=lambda m: None)
    assert row["evaluated_on"] == "validation" and row["error"] is None
    assert seen and not set(seen) & test
    assert row["n_train"] + row["n_test"] == len(split.X_train)
    assert row["n_test"] == 20 and row["n_test_anomalies"] == 4  # stratified quarter
    assert row["split_rule"].startswith("VALIDATION (test part unused)")
    assert row["misclassified"] == []


def test_validation_needs_labeled_anomalies_in_training():
    split = Split("bgl_seq", "balanced", [["a"]] * 8, np.zeros(8, dtype=int), [["b"]],
                  np.array([1]), {"split_rule": "r"})
    with pytest.raises(DataUnavailable, match="no labeled anomaly"):
        _harness.validation_split(split, 0)


def test_rows_list_misclassified_positions():
    split = Split("d", "p", [["open"]] * 4 + [["error"]] * 2, np.array([0] * 4 + [1] * 2),
                  [["open"], ["error"], ["error", "x"], ["open", "x"]], np.array([0, 1, 0, 1]),
                  {"split_rule": "r"})
    row = run_cell(BenchmarkCell("d", "p", "spy", lambda rs: SpyClassifier()), split, 0)
    assert row["misclassified"] == [2, 3]


def test_f1_ceiling_is_the_best_groupwise_labelling():
    from itertools import product

    from sklearn.metrics import f1_score

    from sklog.benchmarks.ceilings import f1_ceiling

    rng = np.random.RandomState(0)
    keys = rng.randint(0, 5, size=60)
    y = (rng.rand(60) < 0.15 + 0.15 * keys).astype(int)
    best = max(f1_score(y, np.isin(keys, [k for k, on in enumerate(choice) if on]))
               for choice in product([0, 1], repeat=5))
    assert f1_ceiling(keys.tolist(), y) == pytest.approx(best)
    assert f1_ceiling(["a", "b"], [0, 0]) == 0.0


def test_a_cells_module_that_fails_to_import_fails_the_listing(monkeypatch, tmp_path):
    from sklog.benchmarks import cells

    (tmp_path / "half_written.py").write_text("raise RuntimeError('not finished')\n")
    monkeypatch.setattr(cells, "__path__", [*cells.__path__, str(tmp_path)])
    with pytest.raises(ImportError, match="sklog.benchmarks.cells.half_written failed to "
                                          "import: RuntimeError: not finished"):
        _harness.load_cells()
    with pytest.raises(ImportError, match="half_written"):
        _harness.main(["--list"])


def test_neural_rows_keep_their_epoch_losses():
    from sklog.alogscan import ALogSCAN

    split = make_split("hdfs_raw", "natural", _tiny_data(), seed=0)
    tiny = dict(embedding_dim=4, channels=4, max_epochs=2, batch_size=16)
    cell = BenchmarkCell("hdfs_raw", "natural", "tiny", lambda rs: ALogSCAN(**tiny,
                                                                             random_state=rs))
    row = run_cell(cell, split, 0)
    assert row["error"] is None
    assert [e["epoch"] for e in row["epochs"]] == [1.0, 2.0]
    assert all(math.isfinite(e["train_loss"]) for e in row["epochs"])
    json.dumps(row["epochs"])  # written with the row
    spy = run_cell(BenchmarkCell("hdfs_raw", "natural", "spy", lambda rs: SpyDetector()), split, 0)
    assert "epochs" not in spy


def test_run_cell_scores_in_one_pass():
    """The test part goes through the pipeline's transforming steps once: decisions and scores."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    batches = []

    def record(X):
        batches.append(len(X))
        return X

    split = make_split("hdfs_raw", "natural", _tiny_data(), seed=0)
    cell = BenchmarkCell("hdfs_raw", "natural", "spy",
                         lambda rs: make_pipeline(FunctionTransformer(record), SpyDetector()))
    row = run_cell(cell, split, 0)
    assert row["error"] is None and row["f1"] == 1.0
    assert batches == [row["n_fit"], len(split.X_test)]  # fit once, score once


# -- the MLAD protocol and the multi-system splits ------------------------------------------

@pytest.fixture(scope="module")
def real_cache(shared_data):
    return DatasetCache(shared_data)  # each dataset read once for the tests below


def _check_mlad(split):
    train, test = split.train_index, split.test_index
    assert not set(train.tolist()) & set(test.tolist())
    assert not np.any(split.y_train == 1)
    assert np.sum(split.y_test == 1) == np.sum(split.y_test == 0) > 0
    assert len(split.X_train) == len(train) and len(split.X_test) == len(test)


def test_mlad_balanced_on_hdfs_raw(real_cache):
    data = real_cache.get("hdfs_raw")
    split = make_split("hdfs_raw", "mlad_balanced", data, seed=0, quick=True)
    _check_mlad(split)
    y = np.asarray(data["y"])
    # no quick cap on HDFS: every anomaly tested, every other normal block trains
    assert split.info["n_test_anomalies"] == y.sum() == 276
    assert split.info["n_train"] == len(y) - 2 * y.sum()
    assert split.X_test[0] == data["X"][split.test_index[0]]
    assert "balanced_normal_split" in split.info["split_rule"]
    again = make_split("hdfs_raw", "mlad_balanced", data, seed=0)
    assert np.array_equal(again.test_index, split.test_index)
    assert not np.array_equal(
        make_split("hdfs_raw", "mlad_balanced", data, seed=1).test_index, split.test_index)


def test_mlad_balanced_on_bgl_seq_honours_quick_caps(real_cache):
    data = real_cache.get("bgl_seq")
    split = make_split("bgl_seq", "mlad_balanced", data, seed=0, quick=True)
    _check_mlad(split)
    assert split.info["n_train"] == 20_000 and split.info["n_test"] == 10_000
    n_normal = len(data["test_normal"])
    assert np.all(split.train_index < n_normal)  # training: given normal windows only
    assert split.X_test[-1] == data["test_abnormal"][split.test_index[-1] - n_normal]
    # the existing balanced protocol is unchanged: training windows cut from train.txt
    assert "train.txt" in make_split("bgl_seq", "balanced", data, 0, quick=True).info[
        "split_rule"]


def test_thunderbird_2k_windows_and_no_anomaly(real_cache, tmp_path):
    data = real_cache.get("thunderbird_2k")
    assert len(data["X"]) == 100 and all(len(w) == 20 for w in data["X"])
    assert not data["X"][0][0].startswith("- ")  # label column removed
    bundled = DatasetCache(tmp_path, source="auto").get("thunderbird_2k")
    assert bundled["X"] == data["X"] and "load_loghub_2k" in bundled["source"]
    with pytest.raises(DataUnavailable, match="no alert line"):
        make_split("thunderbird_2k", "mlad_balanced", data, seed=0)
    with pytest.raises(DataUnavailable, match="missing data file"):
        DatasetCache(tmp_path, source="data-dir").get("thunderbird_2k")


def test_multi_system_splits(real_cache):
    multi = real_cache.get("multi_system")
    splits = {p: make_split("multi_system", p, multi, seed=0, quick=True)
              for p in ("hdfs", "bgl", "fused:hdfs", "fused:bgl", "transfer:hdfs->bgl",
                        "transfer:bgl->hdfs", "transfer:thunderbird->bgl")}
    assert len(multi["per_seed"]) == 1  # templated once for every protocol of the seed
    for protocol, split in splits.items():
        _check_mlad(split)
        assert split.info["system"] == protocol.split(">")[-1].split(":")[-1]
    hdfs, bgl = splits["hdfs"], splits["bgl"]
    # the same seed rule as hdfs_raw/mlad_balanced; sessions are template strings
    single = make_split("hdfs_raw", "mlad_balanced", real_cache.get("hdfs_raw"), 0, quick=True)
    assert np.array_equal(hdfs.test_index, single.test_index)
    assert not any("blk_" in t for s in hdfs.X_test for t in s)
    assert "fitted on the 8699 hdfs training sessions" in hdfs.info["templating"]["hdfs"]
    # quick caps, per system
    assert bgl.info["n_train"] == 10_000 and bgl.info["n_test_anomalies"] == 2_500
    # fused: union of every system's training part, test of one system
    thunderbird_train = splits["transfer:thunderbird->bgl"].train_index
    assert len(thunderbird_train) == 100
    union = np.sort(np.concatenate([hdfs.train_index, bgl.train_index, thunderbird_train]))
    for dst in ("hdfs", "bgl"):
        fused = splits[f"fused:{dst}"]
        assert np.array_equal(fused.train_index, union)
        assert np.array_equal(fused.test_index, splits[dst].test_index)
        assert fused.info["train_systems"] == ["hdfs", "bgl", "thunderbird"]
    # transfer: source's training part, destination's test part
    for src, dst in (("hdfs", "bgl"), ("bgl", "hdfs")):
        transfer = splits[f"transfer:{src}->{dst}"]
        assert np.array_equal(transfer.train_index, splits[src].train_index)
        assert np.array_equal(transfer.test_index, splits[dst].test_index)
        assert transfer.X_test == splits[dst].X_test
        assert transfer.info["train_systems"] == [src]
    with pytest.raises(DataUnavailable, match="no anomalous session"):
        make_split("multi_system", "fused:thunderbird", multi, seed=0, quick=True)


def test_protocol_patterns_prefer_exact_names():
    cells = [BenchmarkCell("bgl_seq", "balanced", "PCA", None),
             BenchmarkCell("bgl_seq", "mlad_balanced", "PCA", None),
             BenchmarkCell("multi_system", "hdfs", "PCA", None),
             BenchmarkCell("multi_system", "fused:hdfs", "PCA", None),
             BenchmarkCell("multi_system", "transfer:hdfs->bgl", "PCA", None),
             BenchmarkCell("multi_system", "transfer:bgl->hdfs", "ALogSCAN (quick, 3 epochs)",
                           None)]

    def protocols(**kw):
        return [c.protocol for c in select_cells(cells, **kw)]

    assert protocols(protocols="balanced") == ["balanced"]
    assert protocols(protocols="mlad") == ["mlad_balanced"]
    assert protocols(protocols="hdfs") == ["hdfs"]
    assert protocols(protocols="fused,transfer") == [
        "fused:hdfs", "transfer:hdfs->bgl", "transfer:bgl->hdfs"]
    assert protocols(protocols="transfer:*->hdfs") == ["transfer:bgl->hdfs"]
    assert protocols(protocols="*hdfs*") == [
        "hdfs", "fused:hdfs", "transfer:hdfs->bgl", "transfer:bgl->hdfs"]
    assert protocols(datasets="multi", methods="alogscan") == ["transfer:bgl->hdfs"]


def test_mlad_rows_are_registered_with_the_dataset_templater():
    from sklog.benchmarks._data import MLAD_SPLITS, PROTOCOLS

    cells = _harness.load_cells()
    for dataset, protocol in MLAD_SPLITS:
        assert protocol in PROTOCOLS[dataset]
        labels = {c.method: c for c in cells if (c.dataset, c.protocol) == (dataset, protocol)}
        assert {"PCA", "ALogSCAN", "ALogSCAN (quick, 3 epochs)"} <= set(labels)
        assert labels["PCA"].quick and not labels["ALogSCAN"].quick
    pca = next(c for c in cells if (c.dataset, c.method) == ("thunderbird_2k", "PCA"))
    templater = pca.build(0).steps[0][1]
    assert templater.log_format.startswith("<Timestamp> ") and templater.depth == 4
    bgl = next(c for c in cells if (c.dataset, c.protocol, c.method)
               == ("multi_system", "transfer:hdfs->bgl", "PCA"))
    assert type(bgl.build(0)).__name__ == "PCADetector"  # template sessions: no templater


def test_nearest_training_templates_snaps_by_cosine():
    from sklog.benchmarks.ceilings import OOV, nearest_training_templates

    class Embedder:  # fixed vectors: the test checks the mapping, not a language model
        vectors = {"a": [1, 0], "b": [0, 1], "a2": [0.9, 0.1], "ab": [1, 1]}

        def embed_templates(self, texts):
            return np.array([self.vectors[t] for t in texts], dtype=np.float32)

    mapping, similarity = nearest_training_templates({"a2", "ab"}, {"a", "b"}, Embedder())
    assert mapping["a2"] == "a" and mapping["ab"] in {"a", "b"}
    assert similarity.tolist() == pytest.approx([0.9 / np.hypot(0.9, 0.1), 2 ** -0.5])
    mapping, _ = nearest_training_templates({"a2", "ab"}, {"a", "b"}, Embedder(), 0.9)
    assert mapping == {"a2": "a", "ab": OOV}
