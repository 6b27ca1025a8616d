"""DriftLabelTransfer: weak labels of an unlabelled system's sessions from labelled systems."""

from __future__ import annotations

import joblib
import numpy as np
import pytest

from sklog.meta import DriftLabelTransfer

SOURCE = [
    ["open file <*>", "read <*> bytes", "close file <*>"],
    ["open file <*>", "read <*> bytes", "close file <*>"],
    ["open file <*>", "disk failure on device <*>", "close file <*>"],
    ["open file <*>", "connection refused by <*>", "close file <*>"],
]
LABELS = [0, 0, 1, 1]


@pytest.fixture(scope="module")
def transfer():
    return DriftLabelTransfer().fit(SOURCE, LABELS)


def test_source_templates_are_labelled_from_sessions(transfer):
    labelled = dict(zip(transfer.source_templates_, transfer.source_anomalous_, strict=True))
    assert labelled == {"open file <*>": False, "read <*> bytes": False,
                        "close file <*>": False, "disk failure on device <*>": True,
                        "connection refused by <*>": True}


def test_target_templates_by_similarity(transfer):
    probability, confidence = transfer.template_probabilities(
        ["disk failure detected on <*>", "file <*> opened", "kernel panic: cpu <*> halted"])
    assert probability[0] >= 0.5 and confidence[0] >= transfer.min_confidence
    assert probability[1] < 0.5
    assert probability[2] == 0.0 or confidence[2] >= transfer.min_confidence


def test_weak_session_labels_and_round_trip(transfer, tmp_path):
    target = [["file <*> opened", "file <*> closed"],
              ["file <*> opened", "connection to <*> refused", "file <*> closed"]]
    assert transfer.predict(target).tolist() == [0, 1]
    joblib.dump(transfer, tmp_path / "t.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "t.joblib").predict_proba(target),
                                  transfer.predict_proba(target))


def test_labels_must_be_binary():
    with pytest.raises(ValueError, match="0 \\(normal\\) and 1"):
        DriftLabelTransfer().fit(SOURCE, [0, 1, 2, 1])
