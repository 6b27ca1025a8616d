"""Score a log of any length in chunks: cut, template and score batch by batch."""

from __future__ import annotations

import copy
import itertools
from typing import NamedTuple

from ..preprocessing import (
    DEFAULT_MAX_GAP,
    DEFAULT_MAX_OPEN,
    ByteWindower,
    iter_frames,
    iter_session_batches,
    read_framed_index,
)
from ..preprocessing._framed import frame_lines
from ._explain import score_sessions


def score_stream(model, source, *, key=None, window=None, step=None, batch_size=1000,
                 label_column=False, max_gap=DEFAULT_MAX_GAP, max_open=DEFAULT_MAX_OPEN,
                 explain=False, pos_label=1):
    """Cut a log into sessions and score them ``batch_size`` at a time, in bounded memory.

    The sessions of :func:`~sklog.preprocessing.iter_session_batches` are
    handed to :func:`score_sessions` one batch at a time, so a fitted pipeline
    (``DrainTemplater`` -> counts -> detector) templates and scores a log of
    any length while holding one batch and the open sessions only. The
    scores do not depend on ``batch_size``: every session is scored on its
    own.

    Parameters
    ----------
    model : fitted estimator or Pipeline
        A detector or a classifier reading sessions of raw lines.
    source : str, path-like or iterable of str
        A log file (plain, gzip, bz2 or zstd) or its lines.
    key, window, step, label_column, max_gap, max_open
        How the log is cut into sessions: see
        :func:`~sklog.preprocessing.iter_sessions`.
    batch_size : int, default=1000
        Sessions scored in one call.
    explain : {False, True, "anomalies"}, default=False
        As in :func:`score_sessions`.
    pos_label : int or str, default=1
        The anomaly label of classifiers.

    Yields
    ------
    batch : SessionBatch
        The sessions, their raw lines, ids, line numbers and labels.
    result : SessionScores
        ``(is_anomaly, scores, explanations)`` of the batch's sessions.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklog.baselines import InvariantsMiner
    >>> from sklog.inspection import score_stream
    >>> from sklog.preprocessing import DrainTemplater
    >>> normal = [[f"open blk_{i}", f"read blk_{i}", f"close blk_{i}"] for i in range(20)]
    >>> model = make_pipeline(DrainTemplater(), InvariantsMiner()).fit(normal)
    >>> log = ["open blk_7", "open blk_8", "read blk_7", "close blk_7", "close blk_8"]
    >>> for batch, (is_anomaly, scores, _) in score_stream(model, log, key=r"blk_\\d+"):
    ...     print(batch.session_ids, is_anomaly.tolist())
    ['blk_7', 'blk_8'] [False, True]
    """
    batches = iter_session_batches(source, key=key, window=window, step=step,
                                   batch_size=batch_size, label_column=label_column,
                                   max_gap=max_gap, max_open=max_open)
    return ((batch, score_sessions(model, batch.sessions, explain=explain, pos_label=pos_label))
            for batch in batches)


class FrameBatch(NamedTuple):
    """A batch of an archive's sessions (see :func:`score_archive`)."""

    #: as the archive's index names them
    session_ids: list
    #: 1-based line numbers of each session in the log
    line_numbers: list
    #: where each session sits in the archive's index
    positions: list


def reads_frames(model):
    """Whether ``model`` starts with a :class:`~sklog.preprocessing.ByteWindower`."""
    first = model.steps[0][1] if hasattr(model, "steps") else model
    return isinstance(first, ByteWindower)


def score_archive(model, path, *, batch_size=1000, pos_label=1):
    """Score every session of a framed archive, ``batch_size`` at a time.

    A model that starts with a :class:`~sklog.preprocessing.ByteWindower`
    (e.g. ``ByteWindower() -> CLAD``) reads the archive's frames as they are,
    compressed: nothing is decompressed (its windower is switched to
    ``input="compressed"`` on a copy). Any other model gets each session's
    lines, decompressed frame by frame. Frames are checked against the index
    first (:func:`~sklog.preprocessing.iter_frames`), so a corrupted or
    foreign frame raises instead of being scored.

    Parameters
    ----------
    model : fitted estimator or Pipeline
    path : str or path-like
        An archive written by :func:`~sklog.preprocessing.write_framed_log`.
    batch_size : int, default=1000
    pos_label : int or str, default=1

    Yields
    ------
    batch : FrameBatch
    result : SessionScores
        ``(is_anomaly, scores, None)``.
    """
    index = read_framed_index(path)
    compressed = reads_frames(model)
    if compressed:
        model = copy.deepcopy(model)
        windower = model.steps[0][1] if hasattr(model, "steps") else model
        windower.set_params(input="compressed")
    frames = iter_frames(path)
    for start in itertools.count(0, batch_size):
        chunk = list(itertools.islice(frames, batch_size))
        if not chunk:
            return
        ids = [sid for sid, _ in chunk]
        positions = list(range(start, start + len(chunk)))
        sessions = [frame if compressed else frame_lines(path, index, i, frame)
                    for i, (_, frame) in zip(positions, chunk, strict=True)]
        batch = FrameBatch(ids, [index.line_numbers[i] for i in positions], positions)
        yield batch, score_sessions(model, sessions, explain=False, pos_label=pos_label)
