"""SiameseClassifier: pairs, training, inference, explanations, sklearn integration."""

from __future__ import annotations

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC

from sklog import SiameseClassifier
from sklog.metrics import anomaly_scorer
from sklog.siamese import PairCountWarning, all_pairs, kpone_pairs

# LogisticRegression on the embeddings keeps the tests fast; the default MLP is
# exercised by the ``fitted`` fixture.
TINY = dict(embedding_dim=8, lstm_units=(8,), dense_units=(16, 8), max_epochs=8, lr=1e-2,
            batch_size=32, validation_fraction=0.0, classifier=LogisticRegression(),
            random_state=0)


@pytest.fixture(scope="module")
def toy():
    normal = [["open <*>", "read <*>", "close <*>"], ["open <*>", "write <*>", "close <*>"],
              ["open <*>", "read <*>", "read <*>", "close <*>"]]
    abnormal = [["open <*>", "error <*>", "close <*>"], ["open <*>", "error <*>"],
                ["open <*>", "read <*>", "error <*>"]]
    X = [list(normal[i % 3]) for i in range(30)] + [list(abnormal[i % 3]) for i in range(15)]
    y = np.array([0] * 30 + [1] * 15)
    return X, y


@pytest.fixture(scope="module")
def fitted(toy):
    X, y = toy
    return SiameseClassifier(**{**TINY, "classifier": None}).fit(X, y)


def test_kpone_pairs_partners_and_count():
    y = np.array([0] * 7 + [1] * 5)
    pairs = kpone_pairs(y, 3, np.random.RandomState(0))
    assert pairs.shape == (4 * 12, 2)
    grouped = pairs.reshape(12, 4, 2)
    same = y[grouped[:, 0, 0]] == y[grouped[:, 0, 1]]
    diff = y[grouped[:, 1:, 0]] != y[grouped[:, 1:, 1]]
    assert same.all() and diff.all()
    assert (grouped[:, 0, 0] != grouped[:, 0, 1]).all()  # never paired with itself
    assert sorted(grouped[:, 0, 0]) == list(range(12))  # every session anchors K+1 pairs


def test_all_pairs_exact_and_capped():
    pairs = all_pairs(5, 100, np.random.RandomState(0))
    assert len(pairs) == 10 and (pairs[:, 0] < pairs[:, 1]).all()
    capped = all_pairs(100, 50, np.random.RandomState(0))
    assert len(capped) == 50 and (capped[:, 0] != capped[:, 1]).all()


def test_fit_predict_learns_toy_data(fitted, toy):
    X, y = toy
    assert (fitted.predict(X) == y).mean() == 1.0
    assert fitted.n_pairs_ == 4 * len(X)  # (K + 1) * (n_normal + n_anomalous)
    assert fitted.n_possible_pairs_ == len(X) * (len(X) - 1) // 2
    proba = fitted.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    assert fitted.transform(X).shape == (len(X), 8)
    assert fitted.transform(X).dtype == np.float32


def test_labels_are_kept(toy):
    X, y = toy
    labels = np.where(y == 1, "anomaly", "normal")
    clf = SiameseClassifier(**TINY).fit(X, labels)
    assert set(clf.classes_) == {"anomaly", "normal"}
    assert (clf.predict(X) == labels).mean() >= 0.9


def test_same_seed_same_predictions(toy):
    X, y = toy
    a = SiameseClassifier(**{**TINY, "max_epochs": 2}).fit(X, y)
    b = SiameseClassifier(**{**TINY, "max_epochs": 2}).fit(X, y)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_padding_and_batching_do_not_change_embeddings(fitted):
    short = [["open <*>", "error <*>"]]
    long_ = [["open <*>"] + ["read <*>"] * 40 + ["close <*>"]]
    alone = fitted.transform(short)
    together = fitted.transform(short + long_)[:1]
    np.testing.assert_allclose(alone, together, rtol=1e-5, atol=1e-6)


def test_empty_and_unseen_sessions(fitted):
    pred = fitted.predict([[], ["never seen <*>", "open <*>"]])
    assert pred.shape == (2,)
    assert np.isfinite(fitted.predict_proba([[]])).all()


def test_hybrid_head_and_contrastive_loss(toy):
    X, y = toy
    hybrid = SiameseClassifier(hybrid=True, **TINY).fit(X, y)
    assert hybrid.classifier_ is None
    assert (hybrid.predict(X) == y).mean() >= 0.9
    np.testing.assert_allclose(hybrid.predict_proba(X).sum(1), 1.0, rtol=1e-6)
    labels, proba = hybrid.predict_and_proba(X)  # one pass, the same results
    np.testing.assert_array_equal(labels, hybrid.predict(X))
    np.testing.assert_allclose(proba, hybrid.predict_proba(X))
    contrastive = SiameseClassifier(loss="contrastive", **TINY).fit(X, y)
    assert (contrastive.predict(X) == y).mean() >= 0.9


@pytest.mark.parametrize("classifier", [KNeighborsClassifier(3), LogisticRegression(),
                                        SVC()])
def test_any_sklearn_classifier_on_embeddings(toy, classifier):
    X, y = toy
    clf = SiameseClassifier(**{**TINY, "max_epochs": 4, "classifier": classifier}).fit(X, y)
    assert type(clf.classifier_) is type(classifier)
    assert clf.classifier_ is not classifier
    assert (clf.predict(X) == y).mean() >= 0.9
    assert hasattr(clf, "predict_proba") == hasattr(classifier, "predict_proba")
    if isinstance(classifier, SVC):
        assert clf.decision_function(X).shape == (len(X),)


def test_all_pairs_warns_when_capped(toy):
    X, y = toy
    with pytest.warns(PairCountWarning, match="quadratic"):
        clf = SiameseClassifier(pairs="all", max_pairs=100, **{**TINY, "max_epochs": 1})
        clf.fit(X, y)
    assert clf.n_pairs_ == 100


def test_early_stopping_uses_validation_split(toy):
    X, y = toy
    clf = SiameseClassifier(**{**TINY, "validation_fraction": 0.2, "max_epochs": 3}).fit(X, y)
    assert "valid_loss" in clf.net_.history[-1]
    assert clf.n_pairs_ == 4 * (len(X) - 9)  # 9 of 45 sessions held out


def test_explain_points_at_the_error_event(fitted):
    session = ["open <*>", "error <*>", "close <*>"]
    values = fitted.explain([session, [], ["open <*>"]])
    assert [len(v) for v in values] == [3, 0, 1]
    assert int(np.argmax(values[0])) == 1


def test_presets_and_free_configuration(toy):
    X, y = toy
    large = SiameseClassifier("large", max_epochs=1, validation_fraction=0.0,
                              classifier=LogisticRegression(), random_state=0)
    large.fit(X[:12] + X[-6:], np.r_[y[:12], y[-6:]])
    encoder = large.net_.module_.encoder
    assert [lstm.hidden_size for lstm in encoder.lstms] == [192, 192, 64]
    assert large.transform(X[:2]).shape == (2, 64)
    low = SiameseClassifier(**TINY).fit(X, y).net_.module_.encoder
    assert low.lstms[0].hidden_size == 8 and low.output_dim == 8
    with pytest.raises(ValueError, match="dense_units"):
        SiameseClassifier(dense_units=(0,), max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="pairs"):
        SiameseClassifier(pairs="some").fit(X, y)


def test_one_class_is_rejected(toy):
    X, _ = toy
    with pytest.raises(ValueError, match="two classes"):
        SiameseClassifier(**TINY).fit(X, np.zeros(len(X)))


def test_clone_gridsearch_joblib(tmp_path, toy, fitted):
    X, y = toy
    path = tmp_path / "siamese.joblib"
    joblib.dump(fitted, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    search = GridSearchCV(SiameseClassifier(**{**TINY, "max_epochs": 2}),
                          {"n_negatives": [1, 2]}, cv=2, scoring=anomaly_scorer("f1"))
    search.fit(X, y)
    # every fold's score is the anomaly-class F1 of that fold's fit, computed by hand
    for k, (train, test) in enumerate(StratifiedKFold(2).split(X, y)):
        for i, params in enumerate(search.cv_results_["params"]):
            clf = clone(search.estimator).set_params(**params).fit(
                [X[j] for j in train], y[train])
            expected = f1_score(y[test], clf.predict([X[j] for j in test]), zero_division=0)
            assert search.cv_results_[f"split{k}_test_score"][i] == pytest.approx(expected)


@pytest.mark.slow
def test_real_hdfs_subsample(shared_data):
    from sklog.datasets import read_id_sequences, read_template_table
    from sklog.metrics import evaluate, supervised_split

    templates = read_template_table(shared_data / "hdfs" / "HDFS_templates.csv")
    normal = read_id_sequences(shared_data / "hdfs" / "deeplog_normal.txt.gz", templates)
    abnormal = read_id_sequences(shared_data / "hdfs" / "deeplog_abnormal.txt.gz", templates)
    X = normal[:400] + abnormal[:400]
    y = np.array([0] * 400 + [1] * 400)
    train, test = supervised_split(X, y, deduplicate=True, test_size=0.25, random_state=0)
    clf = SiameseClassifier(max_epochs=20, batch_size=32, random_state=0)
    clf.fit([X[i] for i in train], y[train])
    assert evaluate(clf, [X[i] for i in test], y[test])["f1"] >= 0.9


def test_pairs_are_resampled_every_epoch():
    from sklog.nn import LengthBucketSampler, PairDataset, ResamplePairs

    ids = np.arange(1, 21).reshape(10, 2)
    ds = PairDataset(ids, np.full(10, 2), np.array([0] * 5 + [1] * 5), "kpone", 3, 100,
                     np.random.RandomState(0))
    first = ds.pairs.clone()
    callback = ResamplePairs().initialize()
    callback.on_epoch_begin(None, dataset_train=ds)  # epoch 1 keeps the initial draw
    assert (ds.pairs == first).all()
    callback.on_epoch_begin(None, dataset_train=ds)
    assert len(ds.pairs) == len(first) and not (ds.pairs == first).all()
    batches = list(LengthBucketSampler(ds, 16))
    assert sorted(i for b in batches for i in b) == list(range(40))
    x, target = ds[batches[0]]
    # both sides of the 16 pairs stacked into one batch of 32 sessions
    assert x["ids"].shape == (32, 2) and target.shape == (16, 3)
    pairs = ds.pairs[batches[0]]
    np.testing.assert_array_equal(x["ids"][:16], ids[pairs[:, 0]])
    np.testing.assert_array_equal(x["ids"][16:], ids[pairs[:, 1]])
    assert (target[:, 0] == (target[:, 1] == target[:, 2])).all()


def test_predict_and_proba_embeds_once(fitted, toy, scoring_passes):
    assert scoring_passes(fitted, toy[0], "_embed") == 1
