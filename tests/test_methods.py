"""sklog.methods: one list of methods, read by the command, the demo and the benchmark."""

from __future__ import annotations

import inspect

import joblib
import pytest
from sklearn.base import is_classifier, is_outlier_detector
from sklearn.pipeline import Pipeline

from sklog import methods
from sklog.baselines import PCADetector
from sklog.benchmarks import load_cells
from sklog.methods import METHODS, Method, get_method


@pytest.mark.parametrize("name", list(METHODS))
def test_entries_describe_their_estimators(name):
    method = METHODS[name]
    assert method.name == name
    factory = method.load_factory()
    estimator = method.build(random_state=7)
    if method.kind == "detector":
        assert is_outlier_detector(estimator) and not is_classifier(estimator)
    else:
        assert is_classifier(estimator) and not is_outlier_detector(estimator)
    takes_seed = "random_state" in inspect.signature(factory).parameters
    assert method.accepts_random_state == takes_seed
    params = estimator.get_params()
    seeds = [v for k, v in params.items() if k == "random_state" or k.endswith("__random_state")]
    assert (7 in seeds) == takes_seed
    if method.demo_params is not None:  # the demo settings are the factory's own parameters
        demo = method.build(random_state=0, **method.demo_params).get_params()
        for key, value in method.demo_params.items():
            assert demo[key] == value


def test_build_pipeline_puts_the_templater_first_and_stays_flat():
    detector = get_method("pca").build_pipeline(log_format="HDFS", n_components=3)
    assert [name for name, _ in detector.steps] == ["draintemplater", "pcadetector"]
    assert detector[0].log_format == "HDFS" and detector[-1].n_components == 3
    classifier = get_method("decision_tree").build_pipeline(random_state=4)
    assert [type(step).__name__ for _, step in classifier.steps] == [
        "DrainTemplater", "TemplateCounter", "DecisionTreeClassifier"]
    assert classifier[-1].random_state == 4


def test_get_method_names_the_known_methods():
    assert get_method("alogscan") is METHODS["alogscan"]
    with pytest.raises(ValueError, match="Unknown method 'ALogSCAN'; known methods: pca, "):
        get_method("ALogSCAN")
    with pytest.raises(ValueError, match="siamese"):
        get_method(None)


@pytest.mark.parametrize("kwargs, message", [
    ({"kind": "ranker"}, "kind must be one of"),
    ({"factory": "sklog.baselines.PCADetector"}, "factory must be 'module:attribute'"),
])
def test_invalid_entries_are_refused(kwargs, message):
    entry = dict(name="x", label="X", factory="sklog.baselines:PCADetector", kind="detector",
                 needs_labels=False, threshold_rule="r", description="d")
    with pytest.raises(ValueError, match=message):
        Method(**{**entry, **kwargs})


def test_a_missing_factory_is_an_import_error():
    method = Method(name="x", label="X", factory="sklog.baselines:NoSuchDetector",
                    kind="detector", needs_labels=False, threshold_rule="r", description="d")
    with pytest.raises(ImportError, match="NoSuchDetector"):
        method.build()


def test_demo_params_cannot_be_edited_in_place():
    with pytest.raises(TypeError):
        METHODS["alogscan"].demo_params["max_epochs"] = 100


@pytest.fixture()
def new_method(monkeypatch):
    """A method added by one registry entry and nothing else."""
    method = Method(name="pca_small", label="PCA (3 components)",
                    factory="sklog.baselines:PCADetector", kind="detector", needs_labels=False,
                    threshold_rule="Q-statistic of 3 components", description="a small PCA",
                    demo_params={"n_components": 3})
    monkeypatch.setitem(methods.METHODS, method.name, method)
    return method


def test_a_new_entry_is_in_sklog_fit(new_method, tmp_path, capsys):
    from sklog.cli import main

    log = tmp_path / "app.log"
    log.write_text("".join(f"req {i % 7} served in {i % 5} ms\n" for i in range(400)))
    assert main(["fit", "--help"]) == 0
    assert "pca_small" in capsys.readouterr().out
    model = tmp_path / "m.joblib"
    assert main(["fit", str(log), "--window", "10", "--method", "pca_small", "--out", str(model),
                 "--quiet"]) == 0
    saved = joblib.load(model)
    assert saved["method"] == "pca_small" and saved["kind"] == "detector"
    assert isinstance(saved["pipeline"][-1], PCADetector)


def test_a_new_entry_is_in_the_demo(new_method):
    from sklog._demo import demo_cells

    cells = {c.method: c for c in demo_cells()}
    cell = cells["PCA (3 components) (demo: n_components=3)"]
    assert cell.threshold_rule == "Q-statistic of 3 components" and cell.method_name == "pca_small"
    assert cell.build(0)[-1].n_components == 3
    assert "PCA" in cells and "ALogSCAN (demo: max_epochs=5, patience=5, channels=32, " \
        "device=cpu)" in cells
    assert not any(c.startswith(("LinearSVC", "HistGradientBoosting")) for c in cells)


def test_a_new_entry_gets_a_default_benchmark_row(new_method):
    cells = load_cells()
    keys = [(c.dataset, c.protocol, c.method) for c in cells]
    assert len(keys) == len(set(keys))
    (row,) = [c for c in cells if c.method_name == "pca_small"]
    assert (row.dataset, row.protocol, row.method, row.quick) == (
        "hdfs_raw", "natural", "PCA (3 components)", False)
    assert row.threshold_rule == "Q-statistic of 3 components"
    pipeline = row.build(0)
    assert isinstance(pipeline, Pipeline) and pipeline[0].log_format == "HDFS"
    assert isinstance(pipeline[-1], PCADetector) and pipeline[-1].n_components == 0.95


def test_every_method_has_one_raw_hdfs_row_at_least():
    cells = load_cells()
    raw = [c for c in cells if (c.dataset, c.protocol) == ("hdfs_raw", "natural")]
    assert set(METHODS) <= {c.method_name for c in raw}
    defaults = {c.method for c in raw if c.method_name in ("linear_svc", "gradient_boosting")}
    assert defaults == {"LinearSVC", "HistGradientBoosting"}  # rows from the registry alone
    # a method with rows of its own gets no second default row
    assert [c.method for c in raw if c.method_name == "pca"] == ["PCA"]
    assert {c.method_name for c in cells} - {None} <= set(METHODS)
    plain = [c for c in raw if c.method == METHODS[c.method_name].label]
    assert {c.method for c in plain} == {"PCA", "InvariantsMiner", "LogClustering", "ALogSCAN",
                                         "MLAD", "LinearSVC", "HistGradientBoosting",
                                         "WordNovelty"}
    for cell in plain:  # the rule recorded in the row is the registry's
        assert cell.threshold_rule == METHODS[cell.method_name].threshold_rule



# -- CLAD reads raw lines through its own ByteWindower (templater=False) ----------------------

CLAD_TINY = dict(max_bytes=512, codec=None, d_model=16, n_heads=2, n_blocks=1, pretrain_epochs=0,
                 max_epochs=10, lr=1e-2, batch_size=16, validation_fraction=0.0)


def test_clad_pipeline_has_no_templater_and_learns(hdfs_like_blocks):
    from sklearn.metrics import f1_score

    from sklog.clad import CLAD
    from sklog.preprocessing import ByteWindower

    method = get_method("clad")
    assert (method.kind, method.needs_labels, method.templater) == ("classifier", True, False)
    assert all(m.templater for name, m in METHODS.items() if name != "clad")
    default = method.build_pipeline(log_format="HDFS", random_state=3)
    assert [name for name, _ in default.steps] == ["bytewindower", "clad"]
    assert default[0].max_bytes == 1024 and default[0].codec == "zstd"
    assert default[-1].random_state == 3 and default[-1].threshold == "auto"
    pipe = method.build_pipeline(random_state=0, **CLAD_TINY)
    assert isinstance(pipe[0], ByteWindower) and isinstance(pipe[-1], CLAD)
    X, y = hdfs_like_blocks(30, 15, seed=0)
    X_test, y_test = hdfs_like_blocks(20, 10, seed=1)
    pipe.fit(X, y)
    assert f1_score(y_test, pipe.predict(X_test)) == 1.0


def test_clad_rows_are_registered_on_raw_hdfs_and_bgl():
    from sklog.benchmarks.cells.clad import DEFAULT_ROW, WHOLE_RAW_WINDOW, build_rows

    cells = [c for c in load_cells() if c.method_name == "clad"]
    hdfs = [c for c in cells if c.dataset == "hdfs_raw"]
    assert {c.method for c in hdfs} == set(build_rows())
    assert {(c.dataset, c.protocol, c.quick) for c in cells} == {
        ("hdfs_raw", "natural", False), ("bgl_raw", "chronological", False),
        ("bgl_raw", "random", False)}
    assert {c.method for c in cells if c.protocol == "random"} == {*build_rows(),
                                                                    WHOLE_RAW_WINDOW}
    whole = next(c for c in cells if c.method == WHOLE_RAW_WINDOW).build(0)[0]
    assert (whole.codec, whole.max_bytes) == (None, 4096)
    assert {c.method for c in cells if c.protocol == "chronological"} == {DEFAULT_ROW}
    default = next(c for c in cells if c.method == "ByteWindower(zstd) + CLAD")
    assert default.threshold_rule.startswith(METHODS["clad"].threshold_rule)
    pipe = default.build(5)
    assert [name for name, _ in pipe.steps] == ["bytewindower", "clad"]
    assert (pipe[-1].random_state, pipe[-1].pretrain_epochs, pipe[-1].max_epochs) == (5, 1, 8)
    raw = next(c for c in cells if c.method == "ByteWindower(raw bytes) + CLAD").build(0)
    assert raw[0].codec is None


def test_sklog_fit_and_detect_with_clad(tmp_path, capsys, hdfs_like_blocks):
    from sklog.cli import main

    sessions, y = hdfs_like_blocks(30, 15)
    log, labels = tmp_path / "train.log", tmp_path / "labels.csv"
    log.write_text("".join(line + "\n" for session in sessions for line in session))
    labels.write_text("BlockId,Label\n" + "".join(
        f"blk_{i},{'Anomaly' if label else 'Normal'}\n" for i, label in enumerate(y)))
    model = tmp_path / "clad.joblib"
    assert main(["fit", str(log), "--session-key", r"blk_\d+", "--labels", str(labels),
                 "--method", "clad", "--max-epochs", "2", "--out", str(model),
                 "--quiet"]) == 0
    saved = joblib.load(model)
    assert saved["method"] == "clad" and saved["kind"] == "classifier"
    assert [name for name, _ in saved["pipeline"].steps] == ["bytewindower", "clad"]
    assert saved["pipeline"][-1].max_epochs == 2
    capsys.readouterr()
    assert main(["detect", str(log), "--model", str(model), "--format", "json"]) == 0
    assert "45 sessions scored" in capsys.readouterr().err


def test_archive_benchmark_scores_the_default_clad_row():
    from sklog.benchmarks import archive

    full, quick = archive._clad(3, False), archive._clad(3, True)
    assert [name for name, _ in full.steps] == ["bytewindower", "clad"]
    assert (full[-1].random_state, full[-1].pretrain_epochs, full[-1].max_epochs) == (3, 1, 8)
    assert (quick[-1].pretrain_epochs, quick[-1].max_epochs) == (0, 2)
