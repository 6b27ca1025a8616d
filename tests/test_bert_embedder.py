"""BertEmbedder: the packaged all-MiniLM-L6-v2, loaded once for the module (shared cache)."""

from __future__ import annotations

import io
import pickle
import time
import warnings

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import IsolationForest
from sklearn.pipeline import make_pipeline

from sklog.feature_extraction import BertEmbedder, _bert
from sklog.feature_extraction._bert import PLACEHOLDER, mask_template

HDFS = [
    "Receiving block <*> src: <*> dest: <*>",
    "BLOCK* NameSystem.addStoredBlock: blockMap updated: <*> is added to <*> size <*>",
    "PacketResponder <*> for block <*> terminating",
    "Received block <*> of size <*> from <*>",
    "Deleting block <*> file <*>",
]
TRAIN = [HDFS[:4], HDFS[:4] + [HDFS[2]], [HDFS[0], HDFS[3]], HDFS]


def cosine(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="module")
def embedder():
    return BertEmbedder(device="cpu").fit(TRAIN)


@pytest.fixture()
def encode_calls(embedder, monkeypatch):
    """Texts each call of the shared model's encode received (wraps the loaded model)."""
    model = embedder._loaded_model()
    calls, encode = [], model.encode

    def counting(texts, *args, **kwargs):
        calls.append(list(texts))
        return encode(texts, *args, **kwargs)

    monkeypatch.setattr(model, "encode", counting)
    return calls


def test_shapes_dtype_and_fitted_attributes(embedder):
    X = embedder.transform(TRAIN + [["never seen <*>"]])
    assert X.shape == (5, 384) and X.dtype == np.float32
    assert embedder.embedding_dim_ == embedder.n_features_out_ == 384
    names = embedder.get_feature_names_out()
    assert names[0] == "bertembedder0" and len(names) == 384
    assert np.isfinite(X).all()


def test_identical_sessions_identical_vectors(embedder):
    X = embedder.transform([HDFS[:3], ["x <*>"], HDFS[:3], list(reversed(HDFS[:3]))])
    np.testing.assert_array_equal(X[0], X[2])
    np.testing.assert_allclose(X[0], X[3], rtol=1e-6, atol=1e-7)  # mean ignores order


def test_semantic_sanity(embedder):
    a, b, c = embedder.embed_templates([
        "Failed to connect to server <*>",
        "Connection to server <*> failed",
        "Received block <*> of size <*> from <*>",
    ])
    assert cosine(a, b) > cosine(a, c) + 0.2
    assert cosine(a, b) > 0.7


def test_normalize(embedder):
    v = embedder.embed_templates(HDFS)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    # normalize=False gives the model's own output (all-MiniLM-L6-v2 ends in a Normalize
    # module, so its vectors are unit length already)
    raw = BertEmbedder(device="cpu", normalize=False).embed_templates(HDFS)
    model = embedder._loaded_model()
    for i, t in enumerate(HDFS):
        np.testing.assert_array_equal(raw[i], model.encode([mask_template(t)])[0])
    np.testing.assert_allclose(raw, v, atol=1e-6)


def test_embed_templates_without_fit_and_the_cache_does_the_work(embedder, encode_calls):
    fresh = clone(embedder)  # unfitted, empty cache
    adjectives = ("primary", "backup", "remote", "local", "cached", "stale", "secure", "public",
                  "internal", "legacy")
    nouns = ("disk", "queue", "socket", "thread", "cluster", "replica", "volume", "session",
             "index", "table", "buffer", "lease", "token", "shard", "journal", "mirror", "proxy",
             "gateway", "daemon", "scheduler")
    unique = [f"the {a} {n} stopped responding after <*> retries" for a in adjectives
              for n in nouns]
    assert len(set(unique)) == 200
    idx = np.random.default_rng(0).integers(0, 200, size=1_000_000)
    occurrences = [unique[i] for i in idx]
    vectors = fresh.embed_templates(occurrences)
    assert vectors.shape == (1_000_000, 384) and vectors.dtype == np.float32
    assert sum(len(c) for c in encode_calls) == 200  # each unique template once
    assert not hasattr(fresh, "embedding_dim_")
    once = fresh.embed_templates(unique)
    np.testing.assert_array_equal(vectors[:50], once[idx[:50]])
    assert sum(len(c) for c in encode_calls) == 200  # served from the cache
    # transform of the same occurrences as sessions: no new forward pass either
    fresh.fit([unique[:3]])
    out = fresh.transform([occurrences[i:i + 1000] for i in range(0, 1_000_000, 1000)])
    assert out.shape == (1000, 384)
    assert sum(len(c) for c in encode_calls) == 200


def test_vectors_do_not_depend_on_batch_or_cache(embedder):
    """A template's vector is the same alone, in a batch of others, or after a pickle."""
    templates = HDFS + [f"event {w} happened on node <*>" for w in ("one", "two three", "four")]
    together = clone(embedder).embed_templates(templates)
    for i, t in enumerate(templates):
        alone = clone(embedder).embed_templates([t])
        np.testing.assert_array_equal(alone[0], together[i])


def test_masking(embedder):
    assert mask_template("Received blk_-42 of size 67108864 from /10.0.0.1:50010") == (
        f"Received {PLACEHOLDER} of size {PLACEHOLDER} from /{PLACEHOLDER}")
    assert mask_template("<*> at 0x7ffe id 3fa85f64-5717-4562-b3fc-2c963f66afa6 c0ffee42") == (
        f"{PLACEHOLDER} at {PLACEHOLDER} id {PLACEHOLDER} {PLACEHOLDER}")
    assert mask_template("version v2 of node-a") == "version v2 of node-a"
    # templates that differ only in identifiers get one vector, from one forward pass
    a, b, c = embedder.embed_templates(["read blk_1 from 10.0.0.1", "read <*> from <*>",
                                        "read blk_2 from 10.0.0.7:50010"])
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_pooling_mean_max_tfidf(embedder):
    v = embedder.embed_templates(HDFS)
    session = [HDFS[0], HDFS[0], HDFS[0], HDFS[4]]
    mean = embedder.transform([session])[0]
    np.testing.assert_allclose(mean, (3 * v[0] + v[4]) / 4, rtol=1e-5, atol=1e-6)
    maxed = clone(embedder).set_params(pooling="max").fit(TRAIN).transform([session])[0]
    np.testing.assert_array_equal(maxed, np.maximum(v[0], v[4]))

    tfidf = clone(embedder).set_params(pooling="tfidf").fit(TRAIN)
    n = len(TRAIN)
    df = {t: sum(t in s for s in TRAIN) for t in HDFS}
    idf = {t: np.log((1 + n) / (1 + df[t])) + 1 for t in HDFS}
    assert df[HDFS[0]] == 4 and df[HDFS[4]] == 1
    expected = (3 * idf[HDFS[0]] * v[0] + idf[HDFS[4]] * v[4]) / (3 * idf[HDFS[0]] + idf[HDFS[4]])
    got = tfidf.transform([session])[0]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(got, mean, atol=1e-3)
    assert tfidf.idf_.shape == (5 + 1,)
    # unseen templates get the largest fitted idf
    unseen = ["something never seen <*>"]
    u = embedder.embed_templates(unseen)[0]
    w_max = max(idf.values())
    expected = (idf[HDFS[0]] * v[0] + w_max * u) / (idf[HDFS[0]] + w_max)
    np.testing.assert_allclose(tfidf.transform([[HDFS[0], unseen[0]]])[0], expected,
                               rtol=1e-5, atol=1e-6)


def test_tfidf_weights_come_from_fit_only(embedder):
    tfidf = clone(embedder).set_params(pooling="tfidf").fit(TRAIN)
    idf = tfidf.idf_.copy()
    probe = [[HDFS[0], HDFS[4]]]
    before = tfidf.transform(probe)
    tfidf.transform([[HDFS[4]]] * 50 + [["brand new <*>"]] * 20)  # must not change weights
    np.testing.assert_array_equal(tfidf.idf_, idf)
    np.testing.assert_array_equal(tfidf.transform(probe), before)
    other = clone(tfidf).fit([[HDFS[0]], [HDFS[0], HDFS[4]], [HDFS[0]]])
    assert not np.allclose(other.transform(probe), before, atol=1e-4)


def test_empty_session_and_empty_template(embedder):
    X = embedder.transform([[], [""], ["", HDFS[0]]])
    np.testing.assert_array_equal(X[0], np.zeros(384, dtype=np.float32))
    empty = embedder.embed_templates([""])[0]
    assert np.isfinite(empty).all()
    np.testing.assert_allclose(np.linalg.norm(empty), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(X[1], empty)
    assert embedder.embed_templates([]).shape == (0, 384)
    for pooling in ("max", "tfidf"):
        out = clone(embedder).set_params(pooling=pooling).fit(TRAIN).transform([[], [""]])
        np.testing.assert_array_equal(out[0], 0.0)
        assert np.isfinite(out).all() and np.abs(out[1]).sum() > 0


def test_long_template_warns_once_per_call(embedder):
    long = ("error while reading block <*> from datanode " * 3000)[:100_000]
    assert len(long) == 100_000
    fresh = clone(embedder).fit(TRAIN)
    for call in (lambda: fresh.transform([[long, long, HDFS[0]], [long]]),
                 lambda: fresh.embed_templates([long, long + " again", "short"])):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = call()
        messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
        assert len(messages) == 1, messages
        assert "truncated" in messages[0] and "max_seq_length=256" in messages[0]
        assert np.isfinite(out).all()
    assert "2 template(s)" in messages[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fresh.transform([[HDFS[0]]])  # no warning without long templates


def test_pickle_and_joblib_round_trip(embedder):
    fitted = clone(embedder).set_params(pooling="tfidf").fit(TRAIN)
    probe = TRAIN + [["never seen <*>", ""], []]
    expected = fitted.transform(probe)
    data = pickle.dumps(fitted)
    assert len(data) < 1_000_000
    assert b"model.safetensors" not in data
    loaded = pickle.loads(data)
    assert "_template_cache" not in vars(loaded)
    assert "_template_cache" in vars(fitted)  # pickling did not empty the original
    np.testing.assert_array_equal(loaded.transform(probe), expected)
    buffer = io.BytesIO()
    joblib.dump(fitted, buffer)
    assert buffer.tell() < 1_000_000
    buffer.seek(0)
    np.testing.assert_array_equal(joblib.load(buffer).transform(probe), expected)
    np.testing.assert_array_equal(loaded.idf_, fitted.idf_)


def test_model_is_loaded_lazily_and_shared(embedder):
    a, b = BertEmbedder(device="cpu"), BertEmbedder(device="cpu", pooling="max")
    assert set(vars(a)) == set(a.get_params())  # nothing loaded in __init__
    a.embed_templates(["x"])
    b.fit(TRAIN)
    assert a._loaded_model() is b._loaded_model() is embedder._loaded_model()
    assert sum(key[1] == "cpu" for key in _bert._MODELS) == 1


def test_clone_keeps_params_drops_state(embedder):
    copy = clone(embedder)
    assert copy.get_params() == embedder.get_params()
    assert not hasattr(copy, "embedding_dim_") and "_template_cache" not in vars(copy)


def test_in_a_pipeline(embedder):
    pipe = make_pipeline(BertEmbedder(device="cpu"), IsolationForest(random_state=0))
    rng = np.random.default_rng(0)
    normal = [list(rng.choice(HDFS[:4], size=int(rng.integers(2, 9)))) for _ in range(60)]
    pipe.fit(normal)
    scores = pipe.score_samples([HDFS[:4], ["kernel panic: fatal exception in interrupt"] * 3])
    assert scores[0] > scores[1]


def test_wrong_types(embedder):
    with pytest.raises(TypeError, match="sequence of sessions"):
        embedder.transform("one bare line")
    with pytest.raises(TypeError, match="sequence of sessions"):
        clone(embedder).fit("one bare line")
    with pytest.raises(ValueError, match="NaN"):
        embedder.transform(np.array([[1.0, np.nan]]))
    with pytest.raises(TypeError, match="template strings"):
        embedder.embed_templates("one template")
    with pytest.raises(TypeError, match="strings"):
        embedder.embed_templates([1.5])
    with pytest.raises(ValueError, match="pooling"):
        BertEmbedder(pooling="sum").fit(TRAIN)
    with pytest.raises(ValueError, match="batch_size"):
        BertEmbedder(batch_size=0).embed_templates(["x"])


def test_bogus_hub_name_offline_is_a_clear_error_and_sets_nothing(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded = dict(_bert._MODELS)
    start = time.perf_counter()
    with pytest.raises(OSError, match="(?s)no-such-org/bogus-model.*local") as info:
        BertEmbedder(model="no-such-org/bogus-model", device="cpu").fit(TRAIN)
    assert time.perf_counter() - start < 10
    assert "pass model=<path" in str(info.value)
    assert _bert._MODELS == loaded
    with pytest.raises(OSError, match="/no/such/directory"):
        BertEmbedder(model="/no/such/directory", device="cpu").embed_templates(["x"])


def test_auto_device_resolves_like_resolve_device(embedder, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    auto = BertEmbedder()  # device="auto"
    np.testing.assert_array_equal(auto.embed_templates(HDFS[:2]),
                                  embedder.embed_templates(HDFS[:2]))
    assert auto.device == "auto"
    assert auto._loaded_model() is embedder._loaded_model()
