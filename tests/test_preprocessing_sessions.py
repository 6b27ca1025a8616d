import bz2
import gzip

import numpy as np
import pytest
import zstandard

from sklog.preprocessing import (
    bgl_line_labels,
    iter_lines,
    labels_from_line_labels,
    labels_from_table,
    sessions_from_lines,
    strip_label_column,
    time_windows_from_lines,
    windows_from_lines,
)


def test_sessions_from_lines_hdfs_line_in_two_blocks():
    lines = [
        "Receiving block blk_1 src",
        "Receiving block blk_-2 src",
        "no block here",
        "Deleting blk_1 and blk_-2 blk_1",
    ]
    sessions, ids, idx = sessions_from_lines(lines)
    assert ids == ["blk_1", "blk_-2"]
    assert sessions[0] == [lines[0], lines[3]]
    assert [i.tolist() for i in idx] == [[0, 3], [1, 3]]


def test_sessions_from_lines_callable_key_and_streaming_input():
    lines = (f"node{i % 3} event {i}" for i in range(7))  # a generator, read once
    sessions, ids, idx = sessions_from_lines(lines, key=lambda line: line.split()[0])
    assert ids == ["node0", "node1", "node2"]
    assert [len(s) for s in sessions] == [3, 2, 2]
    assert idx[0].tolist() == [0, 3, 6]


def test_windows_fixed_and_sliding_cover_every_line():
    lines = [f"l{i}" for i in range(7)]
    fixed, idx = windows_from_lines(lines, size=3)
    assert fixed == [["l0", "l1", "l2"], ["l3", "l4", "l5"], ["l6"]]
    assert [i.tolist() for i in idx] == [[0, 1, 2], [3, 4, 5], [6]]
    sliding, idx = windows_from_lines(lines, size=4, step=2)
    assert [i.tolist() for i in idx] == [[0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6]]
    assert windows_from_lines([], size=3) == ([], [])
    with pytest.raises(ValueError, match="size"):
        windows_from_lines(lines, size=0)


def test_time_windows():
    lines = ["0 a", "30 b", "61 c", "200 d"]
    ts = lambda line: float(line.split()[0])  # noqa: E731
    sessions, idx = time_windows_from_lines(lines, ts, size=60)
    assert sessions == [["0 a", "30 b"], ["61 c"], ["200 d"]]
    sliding, _ = time_windows_from_lines(lines, ts, size=60, step=30)
    assert sliding[0] == ["0 a", "30 b"] and sliding[1] == ["30 b", "61 c"]


def test_label_helpers():
    lines = ["- 1 normal", "KERNDTLB 2 alert", "- 3 fine"]
    line_labels = bgl_line_labels(lines)
    assert line_labels.tolist() == [0, 1, 0]
    assert strip_label_column(lines)[1] == "2 alert"
    _, idx = windows_from_lines(lines, size=2)
    assert labels_from_line_labels(line_labels, idx).tolist() == [1, 0]
    table = {"blk_1": "Anomaly", "blk_2": "Normal"}
    assert labels_from_table(["blk_1", "blk_2"], table).tolist() == [1, 0]
    with pytest.raises(KeyError, match="blk_3"):
        labels_from_table(["blk_3"], table)
    assert labels_from_table(["blk_3"], table, default=0).tolist() == [0]


@pytest.mark.parametrize("suffix", ["", ".gz", ".bz2", ".zst"])
def test_iter_lines_reads_every_compression_and_bad_bytes(tmp_path, suffix):
    payload = b"first\r\nsecond \xff\xfe\nthird"
    path = tmp_path / f"log.txt{suffix}"
    if suffix == ".gz":
        payload_out = gzip.compress(payload)
    elif suffix == ".bz2":
        payload_out = bz2.compress(payload)
    elif suffix == ".zst":
        payload_out = zstandard.ZstdCompressor().compress(payload)
    else:
        payload_out = payload
    path.write_bytes(payload_out)
    assert list(iter_lines(path)) == ["first", "second \ufffd\ufffd", "third"]


def test_real_hdfs_sessions_match_label_table(shared_data):
    from sklog.datasets import read_hdfs_raw

    bunch = read_hdfs_raw(
        shared_data / "hdfs" / "hdfs_raw_sample.log.gz",
        shared_data / "hdfs" / "hdfs_raw_sample_labels.csv",
    )
    assert len(bunch.data) == 9251
    assert int(bunch.target.sum()) == 276
    # every session's lines trace back to raw lines naming its block
    triples = zip(bunch.session_ids, bunch.data, bunch.line_indices, strict=True)
    for sid, session, idx in list(triples)[:50]:
        assert all(sid in bunch.lines[i] for i in idx)
        assert session == [bunch.lines[i] for i in idx]
    assert np.isin(bunch.target, [0, 1]).all()
