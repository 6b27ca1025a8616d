"""ByteWindower: sessions of raw lines -> compressed bytes, padded with -1 (BYTE_PADDING)."""

from __future__ import annotations

import gzip
import pickle
import warnings

import joblib
import numpy as np
import pytest
import zstandard
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sklog.preprocessing import (
    BYTE_PADDING,
    ByteTruncationWarning,
    ByteWindower,
    DictionaryTrainingWarning,
    session_bytes,
)


def _blocks(n=60, seed=0, anomalous_every=5):
    """HDFS-like raw blocks; every ``anomalous_every``-th holds an exception line (label 1)."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for i in range(n):
        block = [f"081109 2035{i % 60:02d} INFO dfs.DataNode: Receiving block blk_{i} src: "
                 f"/10.0.0.{rng.integers(9)}:50010",
                 f"081109 2035{i % 60:02d} INFO dfs.DataNode: Received block blk_{i} of size "
                 f"{rng.integers(1000, 9999)}",
                 f"081109 2036{i % 60:02d} INFO dfs.DataNode: PacketResponder for blk_{i} "
                 "terminating"]
        bad = i % anomalous_every == 0
        if bad:
            block.insert(2, f"081109 2036{i % 60:02d} WARN dfs.DataNode: writeBlock blk_{i} "
                            "received exception java.io.IOException: Connection reset by peer")
        X.append(block)
        y.append(int(bad))
    return X, np.array(y)


def _frame(row):
    """The bytes of one output row, padding removed."""
    return bytes(row[row != BYTE_PADDING].astype(np.uint8))


def test_session_bytes_joins_lines_with_newlines():
    assert session_bytes([]) == b""
    assert session_bytes([""]) == b"\n"
    assert session_bytes(["a", "b"]) == b"a\nb\n"
    assert session_bytes(["a\n", b"\xff\xfe", "é"]) == b"a\n\xff\xfe\n\xc3\xa9\n"
    assert session_bytes(("a", "b")) == b"a\nb\n"


def test_output_contract_int16_with_minus_one_padding():
    X, _ = _blocks(20)
    out = ByteWindower(codec=None, max_bytes=4096).fit(X).transform(X)
    assert out.dtype == np.int16 and out.shape == (20, 4096)
    assert out.min() >= -1 and out.max() <= 255
    lengths = (out >= 0).sum(axis=1)
    for row, session, length in zip(out, X, lengths, strict=True):
        data = session_bytes(session)
        assert length == len(data) and _frame(row) == data
        assert (row[length:] == BYTE_PADDING).all()  # padding only after the frame
    # a zero byte is a byte, not padding
    zero = ByteWindower(codec=None, max_bytes=8).fit([[b"\x00\x00"]]).transform([[b"\x00\x00"]])
    np.testing.assert_array_equal(zero[0], [0, 0, 10, -1, -1, -1, -1, -1])


@pytest.mark.parametrize("codec", ["zstd", "gzip", "lz4", None])
def test_each_codec_writes_frames_that_decompress_to_the_session(codec):
    if codec == "lz4":
        lz4_frame = pytest.importorskip("lz4.frame")
    X, _ = _blocks(40)
    windower = ByteWindower(codec=codec, max_bytes=2048).fit(X)
    out = windower.transform(X)
    dctx = zstandard.ZstdDecompressor(
        dict_data=zstandard.ZstdCompressionDict(windower.dictionary_)
        if windower.dictionary_ else None)
    decompress = {
        "zstd": dctx.decompress, "gzip": gzip.decompress, None: bytes,
        "lz4": (lambda b: lz4_frame.decompress(b)) if codec == "lz4" else None,
    }[codec]
    for row, session in zip(out, X, strict=True):
        assert decompress(_frame(row)) == session_bytes(session)
    raw = np.array([len(session_bytes(s)) for s in X])
    lengths = (out >= 0).sum(axis=1)
    if codec is None:
        np.testing.assert_array_equal(lengths, raw)
    else:
        assert lengths.sum() < raw.sum()  # compresses
    if codec == "zstd":  # a trained dictionary, named in every frame
        assert windower.dictionary_ is not None and windower.dictionary_id_ > 0
        assert windower.level_ == 3
    else:
        assert windower.dictionary_ is None and windower.dictionary_id_ == 0


def test_zstd_dictionary_makes_small_frames_smaller():
    X, _ = _blocks(200)
    with_dict = ByteWindower().fit(X).transform(X)
    without = ByteWindower(dictionary=None).fit(X).transform(X)
    assert (with_dict >= 0).sum() < 0.7 * (without >= 0).sum()


def test_too_little_data_falls_back_to_no_dictionary_with_a_warning():
    X = [["one short line"], ["another"]]
    windower = ByteWindower()
    with pytest.warns(DictionaryTrainingWarning, match="too little"):
        windower.fit(X)
    assert windower.dictionary_ is None and windower.dictionary_id_ == 0
    out = windower.transform(X)
    assert zstandard.ZstdDecompressor().decompress(_frame(out[0])) == b"one short line\n"


def test_given_dictionary_is_used_and_its_id_recorded():
    X, _ = _blocks(60)
    trained = ByteWindower().fit(X)
    given = ByteWindower(dictionary=trained.dictionary_).fit(X[:2])
    assert given.dictionary_id_ == trained.dictionary_id_
    np.testing.assert_array_equal(given.transform(X), trained.transform(X))
    with pytest.raises(ValueError, match="codec='zstd' only"):
        ByteWindower(codec="gzip", dictionary=trained.dictionary_).fit(X)


def test_deterministic_and_fit_forgets_earlier_data():
    X, _ = _blocks(60)
    a = ByteWindower().fit(X).transform(X)
    b = ByteWindower().fit(_blocks(30, seed=9)[0]).fit(X).transform(X)
    np.testing.assert_array_equal(a, b)
    g1 = ByteWindower(codec="gzip").fit(X).transform(X)
    np.testing.assert_array_equal(g1, ByteWindower(codec="gzip").fit(X).transform(X))


def test_truncation_warns_once_counting_sessions():
    X, _ = _blocks(20)  # every 5th block is longer (4 lines)
    windower = ByteWindower(codec=None, max_bytes=300).fit(X)
    lengths = np.array([len(session_bytes(s)) for s in X])
    expected = int((lengths > 300).sum())
    assert 0 < expected < len(X)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = windower.transform(X)
    truncation = [w for w in caught if issubclass(w.category, ByteTruncationWarning)]
    assert len(truncation) == 1
    assert f"{expected} of {len(X)} session(s)" in str(truncation[0].message)
    assert "max_bytes=300 raw bytes" in str(truncation[0].message)  # codec=None: not compressed
    assert truncation[0].filename == __file__  # points at the caller
    cut = lengths > 300
    assert ((out[cut] >= 0).sum(axis=1) == 300).all()
    for row, session in zip(out[cut], np.array(X, dtype=object)[cut], strict=True):
        assert _frame(row) == session_bytes(session)[:300]  # the prefix
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        windower.transform([s for s, c in zip(X, cut, strict=True) if not c])


def test_compressed_input_passes_frames_through_untouched():
    X, _ = _blocks(60)
    lines = ByteWindower().fit(X)
    cctx = zstandard.ZstdCompressor(
        level=3, dict_data=zstandard.ZstdCompressionDict(lines.dictionary_))
    frames = [cctx.compress(session_bytes(s)) for s in X]
    compressed = ByteWindower(input="compressed", dictionary=lines.dictionary_).fit(frames)
    np.testing.assert_array_equal(compressed.transform(frames), lines.transform(X))
    # "train" on frames records the dictionary id they share
    learned = ByteWindower(input="compressed").fit(frames)
    assert learned.dictionary_id_ == lines.dictionary_id_ and learned.dictionary_ is None
    np.testing.assert_array_equal(learned.transform(frames), lines.transform(X))
    # bytearray, memoryview and a 1-D object array are frames too
    as_array = np.empty(len(frames), dtype=object)
    as_array[:] = [bytearray(f) for f in frames]
    np.testing.assert_array_equal(learned.transform(as_array), lines.transform(X))
    np.testing.assert_array_equal(learned.transform([memoryview(f) for f in frames]),
                                  lines.transform(X))
    for codec in ("gzip", None):
        plain = ByteWindower(codec=codec).fit(X)
        frames = [_frame(row) for row in plain.transform(X)]
        passed = ByteWindower(codec=codec, input="compressed").fit(frames)
        np.testing.assert_array_equal(passed.transform(frames), plain.transform(X))


def test_compressed_input_rejects_foreign_frames():
    X, _ = _blocks(60)
    one = ByteWindower().fit(X)
    other = ByteWindower().fit(_blocks(60, seed=3, anomalous_every=2)[0])
    assert one.dictionary_id_ != other.dictionary_id_
    frames = [_frame(r) for r in one.transform(X)]
    foreign = [_frame(r) for r in other.transform(X)]
    windower = ByteWindower(input="compressed").fit(frames)
    with pytest.raises(ValueError, match=r"session 3 was compressed with dictionary id "
                                         rf"{other.dictionary_id_}"):
        windower.transform(frames[:3] + foreign[3:4])
    with pytest.raises(ValueError, match="different dictionaries"):
        ByteWindower(input="compressed").fit(frames + foreign)
    no_dict = zstandard.ZstdCompressor().compress(b"a line\n")
    with pytest.raises(ValueError, match="dictionary id 0"):
        windower.transform([no_dict])
    with pytest.raises(ValueError, match="not a zstd frame"):
        windower.transform([gzip.compress(b"a line\n")])
    with pytest.raises(ValueError, match="not a gzip frame"):
        ByteWindower(codec="gzip", input="compressed").fit([b"plain text"])
    with pytest.raises(TypeError, match="not a compressed frame"):
        windower.transform([["a line"]])
    with pytest.raises(TypeError, match="sequence of sessions"):
        windower.transform(frames[0])


def test_rejects_malformed_input():
    windower = ByteWindower().fit(_blocks(20)[0])
    with pytest.raises(TypeError, match="sequence of sessions"):
        windower.transform("one line")
    with pytest.raises(TypeError, match="raw text"):
        windower.transform(np.ones((2, 3)))
    with pytest.raises(TypeError, match="raw text"):
        windower.transform([["a", 3]])
    with pytest.raises(ValueError, match="0 sessions"):
        windower.transform([])
    with pytest.raises(ValueError, match="level=99 is out of range for codec='zstd'"):
        ByteWindower(level=99).fit([["a"]])
    with pytest.raises(ValueError, match="max_bytes"):
        ByteWindower(max_bytes=0).fit([["a"]])


def test_lz4_missing_gives_a_clear_import_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_lz4(name, *args, **kwargs):
        if name.startswith("lz4"):
            raise ImportError("No module named 'lz4'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_lz4)
    with pytest.raises(ImportError, match="pip install lz4"):
        ByteWindower(codec="lz4").fit([["a"]])


def test_feature_names_and_fitted_attributes():
    windower = ByteWindower(max_bytes=5)
    assert not hasattr(windower, "dictionary_")
    windower.fit(_blocks(20)[0])
    names = windower.get_feature_names_out()
    assert names.tolist() == ["byte0", "byte1", "byte2", "byte3", "byte4"]
    assert not hasattr(windower, "n_features_in_")


def test_clone_pickle_and_joblib_round_trip(tmp_path):
    X, _ = _blocks(60)
    windower = ByteWindower(max_bytes=512).fit(X)
    expected = windower.transform(X)
    fresh = clone(windower)
    assert not hasattr(fresh, "dictionary_") and fresh.get_params() == windower.get_params()
    np.testing.assert_array_equal(fresh.fit(X).transform(X), expected)
    path = tmp_path / "windower.joblib"
    joblib.dump(windower, path)
    np.testing.assert_array_equal(joblib.load(path).transform(X), expected)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(windower)).transform(X), expected)
    # a given dictionary (bytes) survives clone as the same object
    given = ByteWindower(dictionary=windower.dictionary_)
    assert clone(given).dictionary is windower.dictionary_


def _byte_histogram(X):
    """Counts of each byte value per row (padding ignored)."""
    out = np.zeros((len(X), 256))
    for i, row in enumerate(X):
        out[i] = np.bincount(row[row >= 0], minlength=256)
    return out


def test_grid_search_over_a_pipeline_with_the_windower():
    X, y = _blocks(80)
    pipe = make_pipeline(ByteWindower(max_bytes=1024), FunctionTransformer(_byte_histogram),
                         LogisticRegression(max_iter=2000))
    search = GridSearchCV(pipe, {"bytewindower__codec": ["zstd", None]}, cv=StratifiedKFold(3),
                          scoring="f1").fit(X, y)
    assert search.best_score_ > 0.9
    # the uncompressed bytes of an exception line are easy to count
    assert search.best_params_["bytewindower__codec"] is None
    assert search.predict(X).tolist() == y.tolist()
    # rows of the output slice like any array (sessions are rows)
    out = search.best_estimator_[0].transform(X)
    np.testing.assert_array_equal(search.best_estimator_[0].transform(X[10:20]), out[10:20])


def test_benchmark_rows_measure_each_codec():
    from sklog.benchmarks.bytes import _markdown, archive_rows, windower_rows

    X, _ = _blocks(120)
    rows, split = windower_rows(X, max_bytes=256, repeats=1)
    by_codec = {(r["codec"], r["dictionary"]): r for r in rows}
    assert by_codec[("none", "-")]["compression_ratio"] == 1.0
    longer = sum(len(session_bytes(s)) > 256 for s in X[split["train_sessions"]:])
    assert by_codec[("none", "-")]["truncated_at_256"] == longer > 0
    trained = by_codec[("zstd", "trained, 16 KiB")]
    assert trained["compression_ratio"] > by_codec[("zstd", "none")]["compression_ratio"] > 1
    assert all(r["sessions_per_s"] > 0 for r in rows)
    lines = [line for block in X for line in block]
    archives, plain = archive_rows(lines, None, repeats=1)
    assert [a["layout"] for a in archives] == ["side", "side", "inline"]
    assert all(a["log_bytes"] == len("".join(f"{x}\n" for x in lines)) for a in archives)
    report = _markdown({"data": "toy", "sessions": 120, "lines": len(lines), "split": "halves",
                        "mean_raw_session_bytes": 1.0, "device": "cpu", "repeats": 1,
                        "plain_zst_bytes": plain, "windower": rows, "archives": archives})
    assert report.count("\n| zstd |") == 2 and "| windows of 20 lines" in report
