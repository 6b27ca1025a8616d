"""Streaming with bounded memory: iter_sessions, score_stream and sklog detect's use of them."""

from __future__ import annotations

import bz2
import gzip
import json
import random

import joblib
import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

from sklog.baselines import PCADetector
from sklog.cli import main
from sklog.inspection import score_sessions, score_stream
from sklog.preprocessing import (
    HDFS_BLOCK_KEY,
    DrainTemplater,
    Session,
    bgl_line_labels,
    iter_lines,
    iter_session_batches,
    iter_sessions,
    labels_from_line_labels,
    sessions_from_lines,
    strip_label_column,
    windows_from_lines,
)


def _interleaved_log(n_blocks=40, seed=0):
    """HDFS-like lines of ``n_blocks`` blocks that interleave; some lines name two blocks."""
    rng = random.Random(seed)
    events = []
    for b in range(n_blocks):
        start = rng.randrange(400)
        for k in range(rng.randrange(1, 12)):
            events.append((start + k * rng.randrange(1, 30), f"event {k} of blk_{b}"))
    events.sort(key=lambda e: e[0])
    lines = [text for _, text in events]
    lines[5] += " and blk_3"
    lines.insert(9, "a line without a block")
    return lines


def _max_gap(lines, key=HDFS_BLOCK_KEY):
    _, _, indices = sessions_from_lines(lines, key=key)
    return max(int(np.diff(i).max(initial=0)) for i in indices)


def _as_tuples(sessions):
    return [(s.session_id, s.line_numbers.tolist(), s.lines) for s in sessions]


def _reference(lines, key=HDFS_BLOCK_KEY):
    sessions, ids, indices = sessions_from_lines(lines, key=key)
    return [(i, (idx + 1).tolist(), s) for s, i, idx in zip(sessions, ids, indices, strict=True)]


def _consumed_when_yielded(lines, **kwargs):
    """Each session with the number of lines read when it came out."""
    read = [0]

    def stream():
        for line in lines:
            read[0] += 1
            yield line

    return [(session, read[0]) for session in iter_sessions(stream(), **kwargs)]


# -- file formats ---------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["plain", "gzip", "bz2", "zstd"])
def test_every_compression_streams_the_same_sessions(fmt, tmp_path):
    lines = _interleaved_log()
    data = ("\n".join(lines) + "\n").encode()
    if fmt == "gzip":
        data = gzip.compress(data)
    elif fmt == "bz2":
        data = bz2.compress(data)
    elif fmt == "zstd":
        zstandard = pytest.importorskip("zstandard")
        data = zstandard.ZstdCompressor().compress(data)
    path = tmp_path / "log_without_extension"
    path.write_bytes(data)
    expected = _as_tuples(iter_sessions(lines, key=HDFS_BLOCK_KEY))
    assert _as_tuples(iter_sessions(path, key=HDFS_BLOCK_KEY)) == expected
    assert _as_tuples(iter_sessions(str(path), key=HDFS_BLOCK_KEY)) == expected == _reference(
        lines)
    windows = [s.lines for s in iter_sessions(path, window=7, step=3)]
    assert windows == windows_from_lines(lines, size=7, step=3)[0]


# -- keyed sessions: when is a session complete ---------------------------------------------

def test_keyed_sessions_equal_sessions_from_lines_when_the_gap_is_large_enough():
    lines = _interleaved_log()
    gap = _max_gap(lines)
    assert gap > 20  # the blocks do interleave
    reference = _reference(lines)
    unbounded = _as_tuples(iter_sessions(lines, key=HDFS_BLOCK_KEY, max_gap=None,
                                         max_open=None))
    assert unbounded == reference  # same sessions, same order
    exact = _as_tuples(iter_sessions(lines, key=HDFS_BLOCK_KEY, max_gap=gap))
    assert sorted(exact) == sorted(reference)  # same sessions, in order of completion
    assert exact != reference
    # one line less and some session is cut in two parts with the same id, no line lost
    cut = _as_tuples(iter_sessions(lines, key=HDFS_BLOCK_KEY, max_gap=gap - 1))
    assert len(cut) > len(reference)
    merged = {}
    for session_id, numbers, texts in cut:
        merged.setdefault(session_id, ([], []))
        merged[session_id][0].extend(numbers)
        merged[session_id][1].extend(texts)
    assert sorted((i, n, t) for i, (n, t) in merged.items()) == sorted(reference)


def test_a_session_is_yielded_as_soon_as_its_gap_has_passed():
    lines = _interleaved_log(n_blocks=60, seed=1)
    for max_gap in (1, 5, 40):
        for session, read in _consumed_when_yielded(lines, key=HDFS_BLOCK_KEY,
                                                    max_gap=max_gap):
            last = int(session.line_numbers[-1])
            if read < len(lines):  # completed by its gap, not by the end of the stream
                assert read == last + max_gap
            assert np.all(np.diff(session.line_numbers) <= max_gap)


@pytest.mark.parametrize("max_open", [1, 3, 10])
def test_open_sessions_never_exceed_the_cap(max_open):
    lines = _interleaved_log(n_blocks=80, seed=2)
    out = _consumed_when_yielded(lines, key=HDFS_BLOCK_KEY, max_gap=None, max_open=max_open)
    n = len(lines)
    opened = [(int(s.line_numbers[0]), read) for s, read in out]
    most_open = max(sum(first <= t < read for first, read in opened) for t in range(1, n))
    assert most_open == max_open  # the cap is reached, never passed
    # no line is lost: sessions with the same id together hold the reference's lines
    numbers = {}
    for session, _ in out:
        numbers.setdefault(session.session_id, []).extend(session.line_numbers.tolist())
    assert sorted((i, sorted(n)) for i, n in numbers.items()) == sorted(
        (i, n) for i, n, _ in _reference(lines))


def test_the_hdfs_sample_needs_its_largest_gap(shared_data):
    """On the real HDFS sample, blocks come out whole exactly when max_gap >= 68,431."""
    lines = list(iter_lines(shared_data / "hdfs" / "hdfs_raw_sample.log.gz"))
    reference = _reference(lines)
    whole = _as_tuples(iter_sessions(lines, key=HDFS_BLOCK_KEY, max_gap=68_431))
    assert len(whole) == len(reference) == 9_251
    assert sorted(whole) == sorted(reference)
    assert len(list(iter_sessions(lines, key=HDFS_BLOCK_KEY, max_gap=68_430))) == 9_252


def test_labels_and_raw_lines_of_keyed_sessions():
    lines = ["- a blk_1", "FATAL b blk_2", "- c blk_1", "- d blk_2 blk_1"]
    sessions = list(iter_sessions(lines, key=HDFS_BLOCK_KEY, label_column=True))
    assert all(isinstance(s, Session) for s in sessions)
    assert [(s.session_id, s.lines, s.label) for s in sessions] == [
        ("blk_1", ["a blk_1", "c blk_1", "d blk_2 blk_1"], 0),
        ("blk_2", ["b blk_2", "d blk_2 blk_1"], 1)]
    assert sessions[1].raw_lines == ["FATAL b blk_2", "- d blk_2 blk_1"]
    assert next(iter_sessions(lines, key=HDFS_BLOCK_KEY)).label is None


# -- windows --------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 4, 19, 20, 21, 47])
@pytest.mark.parametrize("size, step", [(1, None), (5, None), (20, None), (5, 2), (5, 1),
                                        (6, 4), (3, 5), (25, 3)])
def test_windows_equal_windows_from_lines(n, size, step):
    lines = [f"{'ERR' if i % 9 == 4 else '-'} event {i}" for i in range(n)]
    streamed = list(iter_sessions(lines, window=size, step=step, label_column=True))
    stripped = strip_label_column(lines)
    windows, indices = windows_from_lines(stripped, size=size, step=step)
    assert all(window for window in windows)  # never an empty window
    assert [s.lines for s in streamed] == windows
    assert [s.line_numbers.tolist() for s in streamed] == [(i + 1).tolist() for i in indices]
    assert [s.session_id for s in streamed] == [f"lines {i[0] + 1}-{i[-1] + 1}" for i in indices]
    assert [s.raw_lines for s in streamed] == [[lines[k] for k in i] for i in indices]
    assert [s.label for s in streamed] == labels_from_line_labels(
        bgl_line_labels(lines), indices).tolist()


def test_a_window_is_yielded_when_its_last_line_is_read():
    lines = [f"line {i}" for i in range(100)]
    for session, read in _consumed_when_yielded(lines, window=10, step=3):
        assert read == session.line_numbers[-1] or read == len(lines)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"window": 3, "step": 0}, ValueError, "step must be a positive integer"),
    ({"key": HDFS_BLOCK_KEY, "step": 2}, ValueError, "step applies to windows only"),
    ({"key": HDFS_BLOCK_KEY, "max_gap": 0}, ValueError, "max_gap must be a positive integer"),
    ({"key": HDFS_BLOCK_KEY, "max_open": -1}, ValueError, "max_open must be a positive"),
    ({"key": HDFS_BLOCK_KEY, "max_open": 2.0}, ValueError, "max_open must be a positive"),
    ({}, ValueError, "exactly one of key"),
    ({"key": 3}, TypeError, "regular expression or a callable"),
])
def test_bad_arguments_fail_before_reading(kwargs, error, message):
    def never_read():
        raise AssertionError("the stream was read")
        yield

    with pytest.raises(error, match=message):
        iter_sessions(never_read(), **kwargs)
    with pytest.raises(error, match=message):
        score_stream(None, never_read(), **kwargs)


# -- scoring in chunks ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def pca_pipeline(hdfs_like_blocks):
    sessions, _ = hdfs_like_blocks(n_normal=60, n_anomalous=0)
    return make_pipeline(DrainTemplater(log_format="HDFS"), PCADetector()).fit(sessions)


@pytest.mark.parametrize("batch_size", [1, 7, 1000])
def test_chunked_scores_equal_unchunked_scores(pca_pipeline, hdfs_like_blocks, batch_size):
    sessions, y = hdfs_like_blocks(n_normal=30, n_anomalous=10, seed=3)
    lines = [line for session in sessions for line in session]
    random.Random(0).shuffle(lines)  # blocks interleave
    out = list(score_stream(pca_pipeline, lines, key=HDFS_BLOCK_KEY, batch_size=batch_size,
                            max_gap=None, max_open=None, explain="anomalies"))
    assert all(len(batch.sessions) <= batch_size for batch, _ in out)
    all_sessions = [s for batch, _ in out for s in batch.sessions]
    whole = score_sessions(pca_pipeline, all_sessions, explain="anomalies")
    is_anomaly = np.concatenate([result.is_anomaly for _, result in out])
    scores = np.concatenate([result.scores for _, result in out])
    np.testing.assert_array_equal(is_anomaly, whole.is_anomaly)
    np.testing.assert_allclose(scores, whole.scores, rtol=1e-12)
    np.testing.assert_allclose(-scores, pca_pipeline.score_samples(all_sessions), rtol=1e-12)
    explained = [e for _, result in out for e in result.explanations]
    assert [e is None for e in explained] == [e is None for e in whole.explanations]
    # the detector finds the ten sessions with an error line
    ids = [i for batch, _ in out for i in batch.session_ids]
    flagged = {int(ids[k][4:]) for k in np.flatnonzero(is_anomaly)}
    assert flagged == set(np.flatnonzero(y).tolist())


def test_score_stream_reads_a_file_window_by_window(pca_pipeline, hdfs_like_blocks, tmp_path):
    sessions, _ = hdfs_like_blocks(n_normal=20, n_anomalous=5, seed=4)
    lines = [line for session in sessions for line in session]
    path = tmp_path / "app.log.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    out = list(score_stream(pca_pipeline, path, window=4, step=2, batch_size=5))
    windows, _ = windows_from_lines(lines, size=4, step=2)
    assert [s for batch, _ in out for s in batch.sessions] == windows
    scores = np.concatenate([result.scores for _, result in out])
    np.testing.assert_allclose(-scores, pca_pipeline.score_samples(windows), rtol=1e-12)


# -- sklog detect ---------------------------------------------------------------------------

@pytest.fixture()
def hdfs_model(pca_pipeline, hdfs_like_blocks, tmp_path):
    """A model file as sklog fit writes it, and an interleaved HDFS-like log."""
    from sklog import __version__
    from sklog.cli import MODEL_FORMAT

    model = tmp_path / "pca.joblib"
    joblib.dump({"format": MODEL_FORMAT, "sklog_version": __version__,
                 "pipeline": pca_pipeline, "method": "pca", "kind": "detector",
                 "session_rule": {"mode": "key", "key": HDFS_BLOCK_KEY},
                 "label_column": False, "log_format": "HDFS", "trained_on": {}}, model)
    sessions, _ = hdfs_like_blocks(n_normal=30, n_anomalous=10, seed=5)
    lines = [line for session in sessions for line in session]
    random.Random(1).shuffle(lines)
    log = tmp_path / "new.log"
    log.write_text("\n".join(lines) + "\n")
    return model, log, lines


def test_detect_streams_with_the_session_limits(hdfs_model, capsys):
    model, log, lines = hdfs_model
    assert main(["detect", str(log), "--model", str(model), "--all", "--format", "json",
                 "--batch-size", "3"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["session"] for r in records] == sessions_from_lines(lines)[1]  # whole blocks
    gap = _max_gap(lines)
    assert main(["detect", str(log), "--model", str(model), "--all", "--format", "json",
                 "--max-gap", str(gap - 1)]) == 0
    cut = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(cut) > len(records)
    assert main(["detect", str(log), "--model", str(model), "--all", "--format", "json",
                 "--max-gap", "0", "--max-open", "2"]) == 0
    capped = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(capped) > len(records) and sum(r["n_lines"] for r in capped) == len(lines)
    code = main(["detect", str(log), "--model", str(model), "--max-gap", "-1"])
    assert code == 2 and "--max-gap" in capsys.readouterr().err


def test_detect_progress_shows_lines_per_second(hdfs_model, capsys):
    model, log, _ = hdfs_model
    assert main(["detect", str(log), "--model", str(model), "--verbose"]) == 0
    err = capsys.readouterr().err
    assert "scoring" in err and "lines/s" in err and "40 sessions scored" in err
    assert main(["detect", str(log), "--model", str(model)]) == 0  # not a terminal: no bar
    assert "lines/s" not in capsys.readouterr().err


def test_iter_session_batches_batches_iter_sessions():
    lines = _interleaved_log(seed=3)
    sessions = list(iter_sessions(lines, key=HDFS_BLOCK_KEY, max_gap=15, max_open=8))
    batches = list(iter_session_batches(lines, key=HDFS_BLOCK_KEY, max_gap=15, max_open=8,
                                        batch_size=4))
    assert [len(b.sessions) for b in batches[:-1]] == [4] * (len(batches) - 1)
    assert [i for b in batches for i in b.session_ids] == [s.session_id for s in sessions]
    assert [t for b in batches for t in b.sessions] == [s.lines for s in sessions]


# -- the scale benchmark's generator --------------------------------------------------------

@pytest.fixture()
def tiny_samples(tmp_path, hdfs_like_blocks):
    """A data folder holding a 12-line HDFS sample and a 6-line BGL sample."""
    sessions, _ = hdfs_like_blocks(n_normal=3, n_anomalous=1, seed=6)
    hdfs = [line for session in sessions for line in session]
    hdfs[0] = hdfs[0].replace("blk_0", "blk_-5")
    bgl = [f"{'-' if i != 2 else 'KERNDTLB'} {1117838570 + i} 2005.06.03 R02-M1-N0 "
           f"2005-06-03-15.42.5{i}.000001 R02-M1-N0 RAS KERNEL INFO event {i}" for i in range(6)]
    for name, lines in (("hdfs/hdfs_raw_sample.log.gz", hdfs), ("bgl/bgl_raw_sample.log.gz", bgl)):
        (tmp_path / name).parent.mkdir()
        (tmp_path / name).write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return tmp_path, hdfs, bgl


def test_replay_gives_fresh_ids_and_dates_every_round(tiny_samples):
    from sklog.benchmarks.scale import replay

    data, hdfs, bgl = tiny_samples
    lines = list(replay("hdfs", data, 3 * len(hdfs) + 2))
    assert len(lines) == 3 * len(hdfs) + 2
    ids = sessions_from_lines(lines)[1]
    assert len(sessions_from_lines(hdfs)[1]) == 5
    assert len(ids) == 3 * 5 + 2  # no id comes back in another round
    assert "blk_-000001" in lines[0] and lines[0].startswith("081112 ")
    assert lines[len(hdfs)].startswith("081115 ")  # round 2: three more days
    assert lines[1].replace("blk_000001", "blk_").replace("081112", "081109") == hdfs[1]
    bgl_lines = list(replay("bgl", data, 7))
    assert bgl_lines[0].split()[:3] == ["-", str(1117838570 + 90 * 86_400), "2005.09.01"]
    assert bgl_lines[0].split()[4] == "2005-09-01-15.42.50.000001"
    assert bgl_lines[2].startswith("KERNDTLB ") and bgl_lines[6].split()[2] == "2005.11.30"


@pytest.mark.parametrize("data", ["hdfs", "bgl"])
def test_scale_benchmark_streams_a_fitted_pipeline(tiny_samples, tmp_path, data):
    from sklog.benchmarks.scale import fit_model, markdown, replay, stream_one

    folder, hdfs, bgl = tiny_samples
    pipeline, info = fit_model(data, folder, train_lines=100)
    model = tmp_path / "model.joblib"
    joblib.dump(pipeline, model)
    row = stream_one(data, folder, 50, model, batch_size=4, max_gap=10, max_open=5,
                     progress=False)
    assert row["lines"] == 50 and row["lines_per_s"] > 0
    assert row["lines_in_sessions"] >= 50 if data == "hdfs" else row["lines_in_sessions"] == 50
    cut = {"key": HDFS_BLOCK_KEY} if data == "hdfs" else {"window": 20}
    assert row["sessions"] == len(list(iter_sessions(replay(data, folder, 50), **cut,
                                                     max_gap=10, max_open=5)))
    assert row["peak_rss_mb"] >= row["rss_after_load_mb"] > 0
    assert 0 < row["streaming_peak_rss_mb"] <= row["peak_rss_mb"] + 1
    assert row["rss_trace_mb"][-1][0] == 50
    assert info["train_lines"] == len(hdfs if data == "hdfs" else bgl)
    table = markdown([{**row, **info}])
    assert f"| {data} | 50 |" in table
