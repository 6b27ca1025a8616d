"""Scoring framed archives: frame by frame, compressed where the model reads bytes (issue #9)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sklog.baselines import PCADetector
from sklog.cli import main
from sklog.datasets import load_hdfs_sample
from sklog.inspection import reads_frames, score_archive, score_sessions
from sklog.preprocessing import (
    HDFS_BLOCK_KEY,
    ByteWindower,
    DrainTemplater,
    sessions_from_lines,
    write_framed_log,
)


@pytest.fixture(scope="module")
def hdfs_log():
    """300 bundled HDFS blocks as one log (lines of a block together), with labels."""
    X, y = load_hdfs_sample(return_X_y=True)
    X, y = X[:300], y[:300]
    lines = [line for session in X for line in session]
    sessions, ids, _ = sessions_from_lines(lines, key=HDFS_BLOCK_KEY)
    return lines, sessions, ids, y


def _scored(model, path, batch_size=64):
    results = list(score_archive(model, path, batch_size=batch_size))
    ids = [sid for batch, _ in results for sid in batch.session_ids]
    return ids, np.concatenate([scores for _, (_, scores, _) in results])


def test_template_model_scores_the_archive_like_the_sessions(hdfs_log, tmp_path):
    lines, sessions, ids, y = hdfs_log
    model = make_pipeline(DrainTemplater("HDFS"), PCADetector()).fit(
        [s for s, label in zip(sessions, y, strict=True) if label == 0])
    path = tmp_path / "log.zst"
    write_framed_log(lines, path, session_key=HDFS_BLOCK_KEY)
    got_ids, scores = _scored(model, path)
    assert got_ids == ids
    np.testing.assert_allclose(scores, score_sessions(model, sessions).scores)


def test_byte_model_reads_the_frames_compressed(hdfs_log, tmp_path):
    lines, sessions, ids, y = hdfs_log
    model = make_pipeline(ByteWindower(), LogisticRegression(max_iter=2000)).fit(sessions, y)
    assert reads_frames(model)
    path = tmp_path / "log.zst"
    write_framed_log(lines, path, session_key=HDFS_BLOCK_KEY, dictionary=model[0].dictionary_)
    got_ids, scores = _scored(model, path)
    assert got_ids == ids
    np.testing.assert_allclose(scores, score_sessions(model, sessions).scores)
    assert model[0].input == "lines"  # the model given is not changed

    other = tmp_path / "other.zst"  # frames compressed without the model's dictionary
    write_framed_log(lines, other, session_key=HDFS_BLOCK_KEY)
    with pytest.raises(ValueError, match="dictionar"):
        _scored(model, other)


def test_detect_on_an_archive_flags_what_detect_on_the_log_flags(hdfs_log, tmp_path, capsys):
    lines, *_ = hdfs_log
    log = tmp_path / "hdfs.log"
    log.write_text("\n".join(lines) + "\n")
    archive = tmp_path / "hdfs.zst"
    write_framed_log(log, archive, session_key=HDFS_BLOCK_KEY)
    model = tmp_path / "model.joblib"
    assert main(["fit", str(log), "--session-key", HDFS_BLOCK_KEY, "--method", "pca",
                 "--log-format", "HDFS", "--out", str(model), "--quiet"]) == 0
    capsys.readouterr()

    def flagged(path):
        assert main(["detect", str(path), "--model", str(model), "--format", "json"]) == 0
        captured = capsys.readouterr()
        return [json.loads(row) for row in captured.out.splitlines()], captured.err

    from_log, _ = flagged(log)
    from_archive, summary = flagged(archive)
    assert from_archive and "hdfs.zst: 300 sessions scored" in summary
    assert ({r["session"]: round(r["score"], 9) for r in from_archive}
            == {r["session"]: round(r["score"], 9) for r in from_log})
    for record in from_archive:  # the raw lines shown come from the reported frames
        for line in record["top_lines"]:
            assert lines[line["line"] - 1] == line["text"]
            assert record["session"] in line["text"]

    empty = tmp_path / "empty.zst"
    write_framed_log([], empty, session_key=HDFS_BLOCK_KEY)
    assert main(["detect", str(empty), "--model", str(model)]) == 2
    assert "framed archive without sessions" in capsys.readouterr().err
