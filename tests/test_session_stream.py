"""iter_session_batches: the streaming cutter gives what the whole-log cutters give."""

from __future__ import annotations

import numpy as np
import pytest

from sklog.preprocessing import (
    HDFS_BLOCK_KEY,
    SessionBatch,
    bgl_line_labels,
    iter_session_batches,
    labels_from_line_labels,
    sessions_from_lines,
    strip_label_column,
    windows_from_lines,
)

BGL_LIKE = [f"{'KERNDTLB' if i in (4, 23, 24) else '-'} 1117838570 node-{i % 3} event {i}"
            for i in range(47)]


def _joined(batches, field):
    return [item for batch in batches for item in getattr(batch, field)]


@pytest.mark.parametrize("window, batch_size", [(5, 1), (5, 3), (20, 2), (47, 1), (50, 4)])
def test_windows_match_the_whole_log_cut(window, batch_size):
    batches = list(iter_session_batches(BGL_LIKE, window=window, batch_size=batch_size,
                                        label_column=True))
    assert all(isinstance(b, SessionBatch) and 0 < len(b.sessions) <= batch_size
               for b in batches)
    stripped = strip_label_column(BGL_LIKE)
    sessions, indices = windows_from_lines(stripped, size=window)
    assert _joined(batches, "sessions") == sessions
    assert [n.tolist() for n in _joined(batches, "line_numbers")] == [
        (i + 1).tolist() for i in indices]
    assert _joined(batches, "raw_lines") == [[BGL_LIKE[k] for k in i] for i in indices]
    assert _joined(batches, "session_ids") == [f"lines {i[0] + 1}-{i[-1] + 1}" for i in indices]
    expected = labels_from_line_labels(bgl_line_labels(BGL_LIKE), indices)
    np.testing.assert_array_equal(np.concatenate([b.labels for b in batches]), expected)
    assert expected.sum() >= 1


def test_windows_are_cut_chunk_by_chunk():
    """The first batch comes out after ``window * batch_size`` lines, not the whole stream."""
    read = []

    def stream():
        for i in range(10_000):
            read.append(i)
            yield f"line {i}"

    batches = iter_session_batches(stream(), window=10, batch_size=4)
    first = next(batches)
    assert len(first.sessions) == 4 and len(read) == 40
    assert first.labels is None and first.sessions[0][0] == "line 0"
    assert sum(len(b.sessions) for b in batches) == 1000 - 4


def test_keyed_sessions_match_sessions_from_lines():
    lines = [f"{'FAIL' if i == 7 else '-'} op {i} blk_{i % 4}" + (" blk_9" if i == 3 else "")
             for i in range(30)]
    batches = list(iter_session_batches(lines, key=HDFS_BLOCK_KEY, batch_size=2,
                                        label_column=True))
    assert [len(b.sessions) for b in batches] == [2, 2, 1]
    sessions, ids, indices = sessions_from_lines(strip_label_column(lines))
    assert _joined(batches, "sessions") == sessions
    assert _joined(batches, "session_ids") == ids == ["blk_0", "blk_1", "blk_2", "blk_3",
                                                       "blk_9"]
    assert _joined(batches, "raw_lines")[3][0] == lines[3]  # label column kept in raw lines
    assert [n.tolist() for n in _joined(batches, "line_numbers")] == [
        (i + 1).tolist() for i in indices]
    assert np.concatenate([b.labels for b in batches]).tolist() == [0, 0, 0, 1, 0]


def test_callable_key_and_no_label_column():
    lines = ["a 1", "b 2", "a 3", "no id"]
    (batch,) = iter_session_batches(lines, key=lambda line: line.split()[0]
                                    if line[0] in "ab" else None)
    assert batch.sessions == [["a 1", "a 3"], ["b 2"]] and batch.labels is None


def test_an_empty_stream_yields_nothing():
    assert list(iter_session_batches([], window=3)) == []
    assert list(iter_session_batches(["no id"], key=HDFS_BLOCK_KEY)) == []


@pytest.mark.parametrize("kwargs, message", [
    ({}, "exactly one of key"),
    ({"key": "blk", "window": 3}, "exactly one of key"),
    ({"window": 0}, "window must be a positive integer"),
    ({"window": 2.5}, "window must be a positive integer"),
    ({"window": 3, "batch_size": 0}, "batch_size must be a positive integer"),
    ({"key": "("}, "not a valid regular expression"),
])
def test_bad_arguments_fail_before_reading(kwargs, message):
    def never_read():
        raise AssertionError("the stream was read")
        yield

    with pytest.raises(ValueError, match=message):
        iter_session_batches(never_read(), **kwargs)
    with pytest.raises(TypeError, match="regular expression or a callable"):
        iter_session_batches([], key=3)
