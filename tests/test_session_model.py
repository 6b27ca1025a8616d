"""The shared base of the neural estimators: encoding, template vectors, chunked inference."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn
import torch
from sklearn.base import BaseEstimator

from sklog.nn import LengthBucketSampler, SessionDataset, SessionModelMixin
from sklog.siamese import SiameseClassifier

TINY = dict(embedding_dim=4, lstm_units=(4,), dense_units=(8,), max_epochs=2, random_state=0)


class _TextModel(SessionModelMixin, BaseEstimator):
    """A model that embeds template texts: vector = (length of the text, number of words)."""

    def __init__(self, device="cpu", random_state=None, verbose=0):
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _template_vectors(self, templates):
        return np.array([[len(t), len(t.split())] for t in templates], dtype=np.float32)


def test_unseen_templates_get_vectors_from_their_text():
    model = _TextModel()
    sessions, _ = model._start_fit([["open file", "close"], ["open file"]])
    model.max_length_ = None
    assert model.template_vectors_.shape == (4, 2)  # padding, OOV, two templates
    ids, lengths, table = model._encode([["close", "a brand new line"], []])
    assert lengths.tolist() == [2, 0]
    np.testing.assert_array_equal(table[ids[0, 0]], [5, 1])
    # the unseen template is embedded from its text, not collapsed into the OOV id
    assert ids[0, 1] >= model.vocabulary_.size
    np.testing.assert_array_equal(table[ids[0, 1]], [16, 4])
    batch, _ = SessionDataset(ids, lengths, vectors=table)[[0, 1]]
    assert batch["vectors"].shape == (2, 2, 2)


def test_ids_only_models_map_unseen_templates_to_oov():
    model = SiameseClassifier(**TINY)
    model._start_fit([["a", "b"], ["a"]])
    model.max_length_ = 2
    ids, lengths, table = model._encode([["a", "zzz", "b"]])
    assert table is None
    assert ids.tolist() == [[2, 1]] and lengths.tolist() == [2]


def test_inference_sampler_orders_by_length_and_trims_each_batch():
    lengths = np.array([5, 1, 3, 2])
    ids = np.zeros((4, 5), dtype=np.int64)
    for i, n in enumerate(lengths):
        ids[i, :n] = 2
    dataset = SessionDataset(ids, lengths)
    batches = list(LengthBucketSampler(dataset, 2))
    assert batches == [[1, 3], [2, 0]]
    assert dataset[batches[0]][0]["ids"].shape == (2, 2)  # padded to its own longest only
    # training buckets are a seeded shuffle of every item
    gen = torch.Generator().manual_seed(0)
    train = list(LengthBucketSampler(dataset, 2, gen))
    assert sorted(i for b in train for i in b) == [0, 1, 2, 3]


@pytest.fixture(scope="module")
def fitted_siamese():
    X = ([["open", "read", "close"], ["open", "write", "close", "close"]] * 10
         + [["open", "error"], ["open", "error", "error", "read", "close"]] * 5)
    y = [0] * 20 + [1] * 10
    return SiameseClassifier(**TINY).fit(X, y), X


def test_results_do_not_depend_on_working_memory(fitted_siamese):
    clf, X = fitted_siamese
    expected_z, expected_w = clf.transform(X), clf.explain(X)
    # 256 bytes force one-session chunks for inference and explanations
    with sklearn.config_context(working_memory=2**-12):
        assert clf._chunk_size(5) == 1
        np.testing.assert_allclose(clf.transform(X), expected_z, rtol=1e-5, atol=1e-6)
        for got, want in zip(clf.explain(X), expected_w, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_occlusion_removes_exactly_one_event(fitted_siamese):
    clf, X = fitted_siamese
    session = X[-1]
    weights = clf.explain([session])[0]
    proba = clf.predict_proba([session] + [session[:j] + session[j + 1:]
                                           for j in range(len(session))])[:, 1]
    np.testing.assert_allclose(weights, proba[0] - proba[1:], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("n_jobs, expected", [(None, 1), (2, 2)])
def test_torch_threads_follow_n_jobs_and_are_restored(n_jobs, expected):
    previous = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        est = SiameseClassifier(n_jobs=n_jobs)
        with est._threads():
            assert torch.get_num_threads() == expected
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(previous)
