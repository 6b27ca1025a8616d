"""Leave-one-system-out with k target shots (issue #10): splitter, adapter, benchmark split."""

from __future__ import annotations

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sklog.benchmarks import BenchmarkCell, run_cell
from sklog.benchmarks._data import DataUnavailable, make_split
from sklog.meta import FewShotAdapter, ProtoNetClassifier, SystemSession, tag_sessions
from sklog.metrics import FewShotSplit

# -- FewShotSplit ---------------------------------------------------------------------------


def _labels():
    """System a: 100 rows, 10% anomalous; system b: 200 rows, 20% anomalous."""
    y = np.r_[np.tile([1] + [0] * 9, 10), np.tile([1, 0, 0, 0, 0], 40)]
    groups = np.array(["a"] * 100 + ["b"] * 200)
    return y, groups


@pytest.mark.parametrize("k", [0, 5, 10, 20])
def test_split_parts_are_disjoint_and_sized(k):
    y, groups = _labels()
    source, support, test = FewShotSplit("b", k, random_state=0).split(y, groups)
    assert np.array_equal(source, np.arange(100))  # every row of the other system
    assert len(support) == 2 * k and y[support].sum() == k  # k anomalous + k normal
    assert np.all(groups[support] == "b") and np.all(groups[test] == "b")
    assert not set(support.tolist()) & set(test.tolist())
    assert len(test) == 100 and y[test].sum() == 20  # stratified half: natural ratio kept


def test_test_part_is_fixed_per_seed_and_supports_are_nested():
    y, groups = _labels()
    parts = {k: FewShotSplit("b", k, random_state=3).split(y, groups) for k in (0, 5, 10, 20)}
    for k in (5, 10, 20):
        assert np.array_equal(parts[k][2], parts[0][2])  # the same test rows for every k
    assert set(parts[5][1].tolist()) <= set(parts[10][1].tolist()) <= set(parts[20][1].tolist())
    again = FewShotSplit("b", 10, random_state=3).split(y, groups)
    assert all(np.array_equal(a, b) for a, b in zip(again, parts[10], strict=True))
    other = FewShotSplit("b", 10, random_state=4).split(y, groups)
    assert not np.array_equal(other[2], parts[10][2])


def test_k_larger_than_the_target_allows():
    y, groups = _labels()
    # system a has 10 anomalies: its pool (half) holds 5
    with pytest.raises(ValueError, match=r"k=6 is larger than the target allows.*largest k: 5"):
        FewShotSplit("a", 6, random_state=0).split(y, groups)
    assert len(FewShotSplit("a", 5, random_state=0).split(y, groups)[1]) == 10


def test_target_without_anomalies_unknown_target_and_bad_k():
    y, groups = _labels()
    y = y.copy()
    y[groups == "a"] = 0
    with pytest.raises(ValueError, match="holds 0 anomalous and 100 normal rows"):
        FewShotSplit("a", 0).split(y, groups)
    with pytest.raises(ValueError, match="target='c' is not a system"):
        FewShotSplit("c", 0).split(y, groups)
    with pytest.raises(ValueError, match="k must be an integer >= 0"):
        FewShotSplit("b", -1).split(y, groups)
    with pytest.raises(ValueError, match="pool_size"):
        FewShotSplit("b", 1, pool_size=1.0).split(y, groups)


# -- FewShotAdapter -------------------------------------------------------------------------


def _counts(X):
    return np.array([[s.count("a"), s.count("b"), len(s)] for s in X], dtype=float)


class SpyFeatures(FunctionTransformer):
    """Counts tokens; remembers every session its ``fit`` saw (they are unique)."""

    def __init__(self):
        super().__init__(_counts)

    def fit(self, X, y=None):
        self.seen_ = [tuple(s) for s in X]
        self.seen_y_ = None if y is None else np.asarray(y)
        return super().fit(X, y)


class SpyProtoNet(ProtoNetClassifier):
    """Remembers how many rows fit and adapt saw."""

    def fit(self, X, y, groups=None):
        self.fit_rows_ = len(X)
        return super().fit(X, y, groups)

    def adapt(self, X_support, y_support):
        adapted = super().adapt(X_support, y_support)
        adapted.adapt_y_ = np.asarray(y_support)
        return adapted


def _systems(n=60, seed=0):
    """Two systems of unique sessions; anomalies hold more 'b'. System new: 'c' everywhere."""
    rng = np.random.default_rng(seed)
    X, y, groups = [], [], []
    for system, extra in (("old", []), ("new", ["c", "c"])):
        labels = (rng.random(n) < 0.25).astype(int)
        labels[:4] = 1
        for i, label in enumerate(labels):
            n_b = int(rng.integers(3, 6)) if label else int(rng.integers(0, 2))
            X.append(["a"] * int(rng.integers(2, 5)) + ["b"] * n_b + extra + [f"{system}{i}"])
            y.append(int(label))
            groups.append(system)
    return X, np.asarray(y), np.asarray(groups)


def _tiny_protonet(random_state=0):
    return SpyProtoNet(hidden=(8,), embedding_dim=4, n_episodes=10, max_epochs=3,
                       device="cpu", random_state=random_state)


def _adapter_split(k=4, seed=0):
    from sklog.benchmarks import Split

    X, y, groups = _systems(seed=seed)
    source, support, test = FewShotSplit("new", k, random_state=seed).split(y, groups)
    train = np.r_[source, support]
    X_train = [SystemSession(X[i], groups[i]) for i in train]
    return Split("loso", f"new:k={k}", X_train, y[train], tag_sessions([X[i] for i in test],
                 "new"), y[test], {"split_rule": "FewShotSplit"}), len(source), len(support)


def test_no_fitted_step_sees_target_test_rows():
    """Spy: through the harness, features and learner see source + support rows only."""
    from imblearn.over_sampling import SMOTE

    split, n_source, n_support = _adapter_split(k=4)
    cell = BenchmarkCell("loso", split.protocol, "spy", lambda rs: FewShotAdapter(
        SpyFeatures(), _tiny_protonet(rs), target="new", sampler=SMOTE(random_state=rs)))
    row, model, _ = run_cell(cell, split, 0, keep=True)
    assert row["error"] is None, row.get("traceback")
    test = {tuple(s) for s in split.X_test}
    seen = set(model.features_.seen_)
    assert seen == {tuple(s) for s in split.X_train} and not seen & test
    np.testing.assert_array_equal(model.features_.seen_y_, split.y_train)
    assert (model.n_source_, model.n_support_) == (n_source, n_support) == (60, 8)
    # the learner: SMOTE-balanced source rows, then adapted on the 2k support rows
    n_normal = int(np.sum(split.y_train[:n_source] == 0))
    assert model.learner_.fit_rows_ == 2 * n_normal
    assert model.learner_.adapt_y_.tolist().count(1) == 4 == len(model.learner_.adapt_y_) // 2


def test_baseline_learner_is_fitted_on_source_and_support():
    from sklearn.linear_model import LogisticRegression

    split, n_source, n_support = _adapter_split(k=4)
    seen = []

    class Spy(LogisticRegression):
        def fit(self, X, y, sample_weight=None):
            seen.append(len(X))
            return super().fit(X, y, sample_weight)

    model = FewShotAdapter(SpyFeatures(), Spy(), target="new").fit(split.X_train, split.y_train)
    assert seen == [n_source + n_support] and model.n_support_ == n_support


def test_adapting_helps_and_is_deterministic(tmp_path):
    split, *_ = _adapter_split(k=4)
    build = lambda: FewShotAdapter(SpyFeatures(), _tiny_protonet(), target="new")  # noqa: E731
    a = build().fit(split.X_train, split.y_train)
    b = build().fit(split.X_train, split.y_train)
    np.testing.assert_array_equal(a.predict_proba(split.X_test), b.predict_proba(split.X_test))
    assert not hasattr(build(), "learner_") and clone(a).get_params()["target"] == "new"
    joblib.dump(a, tmp_path / "a.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "a.joblib").predict(split.X_test),
                                  a.predict(split.X_test))
    # groups given explicitly instead of the session tags: the same model
    c = build().fit([list(s) for s in split.X_train], split.y_train,
                    groups=[s.system for s in split.X_train])
    np.testing.assert_array_equal(c.predict(split.X_test), a.predict(split.X_test))


def test_support_of_one_class_and_no_source():
    split, n_source, _ = _adapter_split(k=4)
    normal_only = [i for i in range(len(split.X_train))
                   if i < n_source or split.y_train[i] == 0]
    X = [split.X_train[i] for i in normal_only]
    y = split.y_train[normal_only]
    with pytest.warns(UserWarning, match="no row of class"):
        model = FewShotAdapter(SpyFeatures(), _tiny_protonet(), target="new").fit(X, y)
    # the anomaly prototype of the source is kept: anomalies can still be predicted
    assert set(model.predict(split.X_test).tolist()) <= {0, 1}
    assert model.learner_.prototypes_.shape[0] == 2
    support = split.X_train[n_source:]
    with pytest.raises(ValueError, match="no source system"):
        FewShotAdapter(SpyFeatures(), _tiny_protonet(), target="new").fit(
            support, split.y_train[n_source:])


def test_features_use_no_label():
    """The feature steps every loso row reads give the same rows for permuted labels."""
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sklog.feature_extraction import BertEmbedder, StructuralFeatures

    X, y, _ = _systems(n=30)
    X = [[t if not t[-1].isdigit() else "session <*>" for t in s] for s in X]
    union = make_pipeline(FeatureUnion([("text", BertEmbedder(device="cpu")),
                                        ("structure", StructuralFeatures())]), StandardScaler())
    permuted = np.random.default_rng(0).permutation(y)
    a = clone(union).fit(X, y).transform(X)
    b = clone(union).fit(X, permuted).transform(X)
    c = clone(union).fit(X).transform(X)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


# -- the benchmark split --------------------------------------------------------------------

def _raw_systems(seed=0):
    """Tiny raw HDFS blocks and BGL lines in their real formats, every line unique."""
    rng = np.random.default_rng(seed)
    blocks, block_y = [], []
    for b in range(120):
        bad = b % 6 == 0
        lines = [f"081109 2036{b % 60:02d} {b} INFO dfs.DataNode$DataXceiver: Receiving block "
                 f"blk_{b} src: /10.0.0.{b % 250}:{i} dest: /10.0.0.1:50010" for i in range(3)]
        if bad:
            lines.append(f"081109 203700 {b} WARN dfs.DataNode: Exception writing block blk_{b} "
                         f"to mirror 10.0.0.{b % 250}")
        blocks.append(lines)
        block_y.append(int(bad))
    lines, line_y = [], []
    for i in range(40 * 20):
        bad = i % 20 == 7 and (i // 20) % 4 == 0
        level = "FATAL" if bad else "INFO"
        text = "data storage interrupt" if bad else "instruction cache parity error corrected"
        lines.append(f"{1117838570 + i} 2005.06.03 R02-M1-N0 2005-06-03-15.42.{i % 60:02d}."
                     f"{i:06d} R02-M1-N0 RAS KERNEL {level} {text} {int(rng.integers(9))}")
        line_y.append(int(bad))
    return {"parts": {"hdfs_raw": {"X": blocks, "y": np.array(block_y), "source": "tiny"},
                      "bgl_raw": {"lines": lines, "line_y": np.array(line_y),
                                  "days": np.array(["2005.06.03"] * len(lines)),
                                  "source": "tiny"}},
            "per_seed": {}, "source": "tiny"}


def test_loso_split_templates_without_target_test_rows(monkeypatch):
    from sklog.preprocessing import DrainTemplater

    fitted = []
    original = DrainTemplater.fit

    def spy_fit(self, X, y=None):
        assert y is None  # templating reads no label
        fitted.extend(tuple(s) for s in X)
        return original(self, X, y)

    monkeypatch.setattr(DrainTemplater, "fit", spy_fit)
    data = _raw_systems()
    for target, n_test_anomalies in (("hdfs", 10), ("bgl", 5)):
        fitted.clear()
        splits = {k: make_split("loso", f"{target}:k={k}", data, seed=0) for k in (0, 5)}
        built = data["per_seed"][("loso", 0, False, target)]
        raw = [tuple(s) for s in (data["parts"]["hdfs_raw"]["X"] if target == "hdfs" else [])]
        test_index = splits[0].test_index
        for k, split in splits.items():
            assert np.array_equal(split.test_index, test_index)  # same test rows for every k
            assert not set(split.train_index.tolist()) & set(test_index.tolist())
            assert split.info["n_support"] == 2 * k and split.info["k"] == k
            assert split.info["n_test_anomalies"] == n_test_anomalies
            assert {s.system for s in split.X_train[split.info["n_source"]:]} <= {target}
            assert {s.system for s in split.X_train[:split.info["n_source"]]} == (
                {"hdfs", "bgl"} - {target})
        # "+unlabelled": the pool's other sessions join the training part with y = -1
        more = make_split("loso", f"{target}:k=5+unlabelled", data, seed=0)
        n_labelled = len(splits[5].X_train)
        assert np.array_equal(more.train_index[:n_labelled], splits[5].train_index)
        extra = more.train_index[n_labelled:]
        assert np.array_equal(np.sort(np.r_[extra, splits[5].train_index[
            splits[5].info["n_source"]:]]), built["pool"])
        assert (more.y_train[n_labelled:] == -1).all() and more.info["n_unlabelled"] == len(extra)
        assert not set(extra.tolist()) & set(test_index.tolist())
        assert np.array_equal(more.test_index, test_index)
        assert "support pool" in built["templating"][target]
        if raw:  # HDFS blocks are unique raw sessions: none of the test ones was fitted on
            test_raw = {raw[i] for i in test_index}
            assert set(fitted) & set(raw) == set(raw) - test_raw
    ceiling = make_split("loso", "bgl:ceiling", data, seed=0)
    built = data["per_seed"][("loso", 0, False, "bgl")]
    assert np.array_equal(ceiling.test_index, built["test"])
    assert np.array_equal(ceiling.train_index, built["pool"])  # the whole pool, no source
    assert {s.system for s in ceiling.X_train} == {"bgl"}
    with pytest.raises(DataUnavailable, match="no protocol"):
        make_split("loso", "hdfs:k=x", data, seed=0)


def test_loso_rows_are_registered_for_every_k():
    from sklog.benchmarks import load_cells
    from sklog.benchmarks._data import PROTOCOLS
    from sklog.benchmarks.cells.loso import BASELINES, ROWS, TRANSFER, UNLABELLED_ROW

    cells = [c for c in load_cells() if c.dataset == "loso"]
    assert {c.protocol for c in cells} == set(PROTOCOLS["loso"]) == {
        f"{t}:k={k}{u}" for t in ("hdfs", "bgl") for k in (0, 5, 10, 20)
        for u in ("", "+unlabelled")} | {"hdfs:ceiling", "bgl:ceiling"}
    for target in ("hdfs", "bgl"):
        labels = {c.method for c in cells if c.protocol == f"{target}:ceiling"}
        assert labels == {b.replace("(source + support)", "(target pool only)")
                          for b in BASELINES}
    for protocol in PROTOCOLS["loso"][:8]:
        labels = {c.method for c in cells if c.protocol == protocol}
        assert set(ROWS) <= labels and set(BASELINES) <= labels
        assert (TRANSFER in labels) == protocol.endswith(":k=0")
    for protocol in PROTOCOLS["loso"][8:16]:
        labels = {c.method for c in cells if c.protocol == protocol}
        assert labels == {row + UNLABELLED_ROW for row in ROWS}
    assert all(c.method_name is None and not c.quick for c in cells)


# -- prior ------------------------------------------------------------------------------------
def _prior_data():
    rng = np.random.default_rng(0)
    X = [[f"t{int(v)}" for v in rng.integers(0, 4, size=5)] for _ in range(60)]
    X += [["t9", *[f"t{int(v)}" for v in rng.integers(0, 4, size=4)]] for _ in range(20)]
    y = np.array([0] * 60 + [1] * 20)
    return tag_sessions(X, "old"), y


def test_prior_moves_the_rule_not_the_ranking():
    from sklearn.linear_model import LogisticRegression

    from sklog.feature_extraction import TemplateCounter

    X, y = _prior_data()
    dense = make_pipeline(TemplateCounter(), FunctionTransformer(lambda Z: Z.toarray()))
    plain = FewShotAdapter(dense, LogisticRegression()).fit(X, y)
    assert plain.prior_ is None and plain.fit_prior_ == 0.25
    same = FewShotAdapter(dense, LogisticRegression(), prior=0.25).fit(X, y)
    np.testing.assert_array_equal(same.predict(X), plain.predict(X))
    np.testing.assert_allclose(same.predict_proba(X), plain.predict_proba(X), rtol=1e-9)
    source = FewShotAdapter(dense, LogisticRegression(), prior="source").fit(X, y)
    assert source.prior_ == 0.25
    rare = FewShotAdapter(dense, LogisticRegression(), prior=0.01).fit(X, y)
    p_plain, p_rare = plain.predict_proba(X)[:, 1], rare.predict_proba(X)[:, 1]
    assert (p_rare <= p_plain + 1e-12).all() and rare.predict(X).sum() <= plain.predict(X).sum()
    np.testing.assert_array_equal(np.argsort(rare.decision_function(X), kind="stable"),
                                  np.argsort(p_plain, kind="stable"))


def test_prior_needs_probabilities():
    from sklearn.svm import LinearSVC

    X, y = _prior_data()
    with pytest.raises(ValueError, match="predict_proba"):
        FewShotAdapter(SpyFeatures(), LinearSVC(), prior="source").fit(X, y)


# -- unlabelled target sessions: per-system scaling and the EM prior --------------------------
def _with_unlabelled(k=4, seed=0):
    """The adapter split plus the target's other pool rows, unlabelled (y = -1)."""
    from sklog.meta import UNLABELLED

    X, y, groups = _systems(seed=seed)
    splitter = FewShotSplit("new", k, random_state=seed)
    source, support, test = splitter.split(y, groups)
    pool, _ = splitter.pool_and_test(y, groups)
    unlabelled = np.setdiff1d(pool, support)
    train = np.r_[source, support, unlabelled]
    y_train = np.r_[y[source], y[support], np.full(len(unlabelled), UNLABELLED)]
    X_train = [SystemSession(X[i], groups[i]) for i in train]
    X_test = tag_sessions([X[i] for i in test], "new")
    return X_train, y_train, X_test, y[test], y[unlabelled]


def test_unlabelled_rows_reach_no_fit_with_a_label():
    """Spy: features and learner are fitted on labelled rows only; -1 is never a class."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X_train, y_train, X_test, _, _ = _with_unlabelled()
    labelled = y_train != -1
    model = FewShotAdapter(SpyFeatures(), _tiny_protonet(), target="new",
                           per_system=StandardScaler(), prior="em").fit(X_train, y_train)
    assert model.features_.seen_ == [tuple(s) for s, keep in zip(X_train, labelled, strict=True)
                                         if keep]
    assert -1 not in model.features_.seen_y_ and model.classes_.tolist() == [0, 1]
    assert model.n_unlabelled_ == int((~labelled).sum()) > 0
    assert -1 not in model.learner_.adapt_y_
    assert set(model.system_transformers_) == {"old", "new"}
    # each system's scaler: that system's rows, labelled and unlabelled
    new_rows = [s for s in X_train if s.system == "new"]
    np.testing.assert_allclose(model.system_transformers_["new"].mean_,
                               _counts(new_rows).mean(0))
    baseline = FewShotAdapter(SpyFeatures(), LogisticRegression(), target="new",
                              per_system=StandardScaler(), prior="em").fit(X_train, y_train)
    assert set(baseline.predict(X_test).tolist()) <= {0, 1}


def test_unlabelled_target_without_support():
    """k = 0: the target is only unlabelled rows; its scaler and its rate come from them."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X_train, y_train, X_test, _, _ = _with_unlabelled(k=0)
    model = FewShotAdapter(SpyFeatures(), LogisticRegression(), target="new",
                           per_system=StandardScaler(), prior="em").fit(X_train, y_train)
    assert model.n_support_ == 0 and model.n_unlabelled_ > 0 and 0 < model.prior_ < 1
    assert set(model.system_transformers_) == {"old", "new"}
    assert model.predict(X_test).shape == (len(X_test),)


def test_per_system_scaling_scores_by_the_sessions_system():
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X_train, y_train, X_test, _, _ = _with_unlabelled()
    model = FewShotAdapter(SpyFeatures(), LogisticRegression(), target="new",
                           per_system=StandardScaler()).fit(X_train, y_train)
    # plain lists (no system) are the target's; tagged "old" sessions use the old scaler
    plain = [list(s) for s in X_test]
    np.testing.assert_array_equal(model.decision_function(plain),
                                  model.decision_function(X_test))
    old = tag_sessions(plain, "old")
    assert not np.allclose(model.decision_function(old), model.decision_function(plain))
    # without a target and with several systems, an untagged session has no scaler
    untargeted = FewShotAdapter(SpyFeatures(), LogisticRegression(),
                                per_system=StandardScaler()).fit(X_train, y_train)
    with pytest.raises(ValueError, match="no target to fall back on"):
        untargeted.predict(plain)
    assert untargeted.predict(X_test).shape == (len(X_test),)


def test_per_system_takes_sparse_features_and_any_output_width():
    """Sparse features (e.g. counts) and a transformer that changes the width give the
    dense result, rows in their order."""
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import MaxAbsScaler, PolynomialFeatures

    X_train, y_train, X_test, _, _ = _with_unlabelled()
    sparse_counts = make_pipeline(SpyFeatures(), FunctionTransformer(sparse.csr_matrix))
    per_system = make_pipeline(MaxAbsScaler(), PolynomialFeatures(2))
    dense = FewShotAdapter(SpyFeatures(), LogisticRegression(), target="new",
                           per_system=per_system).fit(X_train, y_train)
    sparse_model = FewShotAdapter(sparse_counts, LogisticRegression(), target="new",
                                  per_system=per_system).fit(X_train, y_train)
    width = dense.learner_.coef_.shape[1]
    assert width > _counts(X_test[:1]).shape[1]  # the transformer widened the rows
    np.testing.assert_allclose(sparse_model.decision_function(X_test),
                               dense.decision_function(X_test), rtol=1e-6, atol=1e-8)
    mixed = [X_test[0], tag_sessions([list(X_test[1])], "old")[0], X_test[2]]
    np.testing.assert_allclose(sparse_model.decision_function(mixed),
                               dense.decision_function(mixed), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("prior", [None, "em"])
def test_predict_and_proba_transforms_once(prior, scoring_passes):
    from sklearn.linear_model import LogisticRegression

    X_train, y_train, X_test, _, _ = _with_unlabelled()
    model = FewShotAdapter(SpyFeatures(), LogisticRegression(), target="new",
                           prior=prior).fit(X_train, y_train)
    assert scoring_passes(model, X_test, "_transform") == 1


def test_em_prior_estimates_the_targets_rate_without_labels():
    from sklearn.linear_model import LogisticRegression

    from sklog.meta import UNLABELLED, em_prior
    from sklog.meta._adapt import shift_prior

    # a posterior known exactly: at rate 0.5 it is sigmoid(2 s - 2) for s ~ N(2y, 1)
    rng = np.random.default_rng(1)
    y = rng.random(40_000) < 0.1
    p = 1 / (1 + np.exp(-(2.0 * rng.normal(2.0 * y, 1.0) - 2.0)))
    assert abs(em_prior(p, 0.5) - 0.1) < 0.01
    assert abs(em_prior(shift_prior(p, 0.5, 0.3), 0.3) - 0.1) < 0.01  # any training rate
    # through the adapter: fitted on balanced support, the target's rate comes back lower
    X_train, y_train, X_test, y_test, y_unlabelled = _with_unlabelled()
    model = FewShotAdapter(SpyFeatures(), LogisticRegression(), target="new",
                           prior="em").fit(X_train, y_train)
    assert 0 < model.prior_ < model.fit_prior_
    assert abs(model.prior_ - y_unlabelled.mean()) < 0.2
    # unlabelled rows are no source: a target with only unlabelled others has none
    unlabelled = y_train == UNLABELLED
    with pytest.raises(ValueError, match="no source system"):
        FewShotAdapter(SpyFeatures(), LogisticRegression(), target="old").fit(
            [s for s, u in zip(X_train, unlabelled, strict=True) if s.system == "old" or u],
            [v for s, v, u in zip(X_train, y_train, unlabelled, strict=True)
             if s.system == "old" or u])


def test_em_prior_and_unlabelled_errors():
    from sklearn.linear_model import LogisticRegression

    X, y, groups = _systems()
    tagged = [SystemSession(s, g) for s, g in zip(X, groups, strict=True)]
    with pytest.raises(ValueError, match="unlabelled sessions"):
        FewShotAdapter(SpyFeatures(), LogisticRegression(), target="new",
                       prior="em").fit(tagged, y)
    with pytest.raises(ValueError, match="every session is unlabelled"):
        FewShotAdapter(SpyFeatures(), LogisticRegression()).fit(tagged, np.full(len(y), -1))


def test_validation_split_keeps_unlabelled_rows_out_of_the_scored_part():
    from sklog.benchmarks import Split
    from sklog.benchmarks._data import validation_split

    X_train, y_train, X_test, y_test, _ = _with_unlabelled()
    split = Split("loso", "new:k=4+unlabelled", X_train, y_train, X_test, y_test, {})
    valid = validation_split(split, seed=0)
    assert -1 not in valid.y_test and (valid.y_train == -1).sum() == (y_train == -1).sum()
