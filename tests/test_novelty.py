"""NoveltyDetector: new words raise the anomaly score, thresholds from training data only,
explanations, persistence; the bgl_raw chronological split of the benchmark harness."""

from __future__ import annotations

import io

import joblib
import numpy as np
import pytest
from sklearn.base import clone

from sklog.baselines import NoveltyDetector
from sklog.inspection import explain


def _raw_normal(n=60, seed=0):
    """Raw lines whose numbers change from session to session; words stay the same."""
    rng = np.random.RandomState(seed)
    return [[f"2005-06-{1 + i % 28:02d}-15.42.{rng.randint(60):02d} R{rng.randint(64):02d}-M1 "
             f"RAS KERNEL INFO {rng.randint(1, 9)} ddr errors detected and corrected",
             f"node 0x{rng.randint(1 << 30):08x} generating core.{rng.randint(4000)}"]
            for i in range(n)]


def test_new_words_raise_the_anomaly_score_and_numbers_do_not():
    train = _raw_normal()
    model = NoveltyDetector().fit(train)
    assert model.threshold_ == 0  # later training sessions bring no new word
    # other timestamps, node numbers, hex ids: nothing new
    fresh = _raw_normal(5, seed=1)
    np.testing.assert_array_equal(np.floor(-model.score_samples(fresh)), 0)
    assert (model.predict(fresh) == 1).all()
    one = [fresh[0] + ["RAS KERNEL FATAL data TLB error interrupt"]]
    two = [fresh[0] + ["RAS KERNEL FATAL data TLB error interrupt", "ciod: failed to read"]]
    s_fresh, s_one, s_two = (model.score_samples(x)[0] for x in (fresh[:1], one, two))
    assert s_fresh > s_one > s_two
    # the integer part of -score is the count of distinct new words
    assert np.floor(-s_one) == len({"FATAL", "data", "TLB", "error", "interrupt"})
    assert model.novel_units(one[0]) == ["FATAL", "data", "TLB", "error", "interrupt"]
    assert np.floor(-s_two) == 5 + 4  # ciod: failed to read
    assert model.predict(one + two).tolist() == [-1, -1]
    # a repeated new word counts once
    assert model.score_samples([one[0] + one[0][-1:]])[0] == pytest.approx(s_one, abs=0.05)


def test_unmasked_numbers_would_all_be_new():
    train, fresh = _raw_normal(), _raw_normal(5, seed=1)
    model = NoveltyDetector(masking=[], threshold=0).fit(train)
    assert (model.predict(fresh) == -1).all()
    # the learned threshold sees later training sessions bring new ids too
    assert NoveltyDetector(masking=[]).fit(train).threshold_ >= 2


def test_learned_threshold_comes_from_the_last_training_sessions_only():
    base = [["open file", "read block", "close file"]] * 40
    late = [["open file", "read block", "seek forward fast", "close file"]] * 10
    train = base + late  # the last 20 % bring three new words against the first 80 %
    model = NoveltyDetector().fit(train)
    assert model.threshold_ == 3
    assert model.offset_ == -3.5
    # two or three new words are as many as a later normal session held; four are not
    test = [["open file", "rename a"], ["open file", "unlink a b"], ["panic x y z"]]
    assert model.predict(test).tolist() == [1, 1, -1]
    # the test data never moves the threshold: fit once, score any batch
    before = (model.offset_, model.threshold_)
    model.predict(test * 50 + [["kernel panic now"]] * 100)
    assert (model.offset_, model.threshold_) == before
    # the holdout share decides which sessions are "later"
    assert NoveltyDetector(holdout=0.5).fit(late + base).threshold_ == 0
    assert NoveltyDetector(threshold=0).fit(train).predict(test).tolist() == [-1, -1, -1]
    assert NoveltyDetector().fit([["a b"]]).threshold_ == 0  # one session: nothing held out


def test_contamination_is_a_quantile_of_training_scores():
    train = _raw_normal(80, seed=2) + [["rare words here"], ["rare words there"]] * 3
    model = NoveltyDetector(contamination=0.1).fit(train)
    scores = model.score_samples(train)
    assert model.offset_ == pytest.approx(np.quantile(scores, 0.1))
    flagged = model.predict(train) == -1
    assert 0 < flagged.mean() <= 0.1 + 1e-9
    assert all(s[0].startswith("rare") for s, f in zip(train, flagged, strict=True) if f)
    d = model.decision_function(train)
    np.testing.assert_allclose(d, scores - model.offset_)


def test_line_unit_counts_new_templates():
    train = [["open <*>", "read <*>", "close <*>"]] * 30
    model = NoveltyDetector(unit="line").fit(train)
    # new lines made of known words: new templates, no new word
    test = [["open <*>", "close <*> read <*>"], ["open <*>", "read <*>"]]
    assert np.floor(-model.score_samples(test)).tolist() == [1, 0]
    assert np.floor(-NoveltyDetector().fit(train).score_samples(test)).tolist() == [0, 0]


def test_explain_points_at_the_lines_with_new_words():
    model = NoveltyDetector().fit(_raw_normal())
    new = "ciod: LOGIN chdir failed"
    sessions = [_raw_normal(1, seed=3)[0] + [new, new], [], [""], _raw_normal(1, seed=4)[0]]
    weights = model.explain(sessions)
    assert [len(w) for w in weights] == [len(s) for s in sessions]
    np.testing.assert_allclose([w.sum() for w in weights], -model.score_samples(sessions))
    first = weights[0]
    assert first[2] == first[3] and first[2] > 2 * first[:2].max()  # the new word shared
    assert 4 < first[2] + first[3] < 4.5  # four new words, 1 each, plus their rarity share
    # the shared inspection entry point and score_sessions read the same hook
    np.testing.assert_allclose(np.concatenate(explain(model, sessions)), np.concatenate(weights))


def test_pickle_and_clone():
    train = _raw_normal()
    model = NoveltyDetector(masking=[r"\d+"], holdout=0.3).fit(train)
    test = _raw_normal(5, seed=5) + [["kernel panic: not syncing"]]
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    buffer.seek(0)
    loaded = joblib.load(buffer)
    np.testing.assert_array_equal(loaded.score_samples(test), model.score_samples(test))
    np.testing.assert_array_equal(loaded.predict(test), model.predict(test))
    twin = clone(model)
    assert twin.get_params() == model.get_params() and not hasattr(twin, "vocabulary_")


def test_invalid_parameters_name_the_parameter():
    with pytest.raises(ValueError, match="unit"):
        NoveltyDetector(unit="token").fit([["a"]])
    with pytest.raises(ValueError, match="threshold"):
        NoveltyDetector(threshold=-1).fit([["a"]])
    with pytest.raises(ValueError, match="holdout"):
        NoveltyDetector(holdout=1.0).fit([["a"]])


# ---------------------------------------------------------------------- benchmark split
def test_bgl_raw_chronological_split(shared_data):
    from sklog.benchmarks import load_cells, select_cells
    from sklog.benchmarks._data import BGL_RAW_TEST_FROM, DatasetCache, make_split

    data = DatasetCache(shared_data).get("bgl_raw")
    windows = make_split("bgl_raw", "chronological", data, seed=0)
    lines = make_split("bgl_raw", "chronological_lines", data, seed=1)
    n_train = int(np.sum(data["days"] < BGL_RAW_TEST_FROM))
    assert n_train + len(lines.X_test) == len(data["lines"]) == 83_806
    assert len(lines.X_train) == n_train
    assert max(data["days"][lines.train_index]) < BGL_RAW_TEST_FROM
    assert min(data["days"][lines.test_index]) >= BGL_RAW_TEST_FROM
    assert lines.y_test.sum() == data["line_y"][n_train:].sum() > 0
    assert all(not s[0].startswith("- ") for s in lines.X_test[:100])  # label column gone
    # windows of 20 lines cut in each part: none straddles the cut
    assert len(windows.X_train) == -(-n_train // 20)
    assert len(windows.X_test) == -(-(len(data["lines"]) - n_train) // 20)
    assert windows.X_test[0][0] == lines.X_test[0][0]
    assert 0 < windows.y_test.sum() < len(windows.y_test)
    # every unsupervised and supervised classic baseline has a row on both protocols
    cells = select_cells(load_cells(), datasets="bgl_raw")
    for protocol in ("chronological", "chronological_lines"):
        names = {c.method_name for c in cells if c.protocol == protocol}
        assert names >= {"pca", "invariants", "clustering", "novelty", "logistic",
                         "decision_tree", "linear_svc", "gradient_boosting"}


def test_bgl_raw_random_split(shared_data):
    """Issue #9's random BGL row: the whole log's windows, stratified 80/20, seeded."""
    from sklog.benchmarks import load_cells, select_cells
    from sklog.benchmarks._data import DatasetCache, make_split

    data = DatasetCache(shared_data).get("bgl_raw")
    first, again, other = (make_split("bgl_raw", "random", data, seed=s) for s in (0, 0, 1))
    assert len(first.X_train) + len(first.X_test) == -(-len(data["lines"]) // 20)
    assert first.X_test == again.X_test and first.X_test != other.X_test
    # stratified: both parts hold anomalies at about the same share
    assert abs(first.y_train.mean() - first.y_test.mean()) < 0.01 < first.y_test.mean()
    names = {c.method_name for c in select_cells(load_cells(), datasets="bgl_raw")
             if c.protocol == "random"}
    assert names >= {"logistic", "decision_tree", "siamese", "clad"}
