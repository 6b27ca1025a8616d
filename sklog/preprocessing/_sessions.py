"""Cut a log into sessions before the pipeline; every session keeps its line indices.

No pipeline step changes the number of rows (GUIDE 1), so grouping lines into
sessions happens here, with plain functions. Each returns the sessions and,
per session, the indices of its lines in the input, so any alert can be traced
back to the raw lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import NamedTuple

import numpy as np

HDFS_BLOCK_KEY = r"blk_-?\d+"


def _key_function(key):
    if callable(key):
        def keys(line):
            k = key(line)
            if k is None:
                return []
            if isinstance(k, (str, bytes, int)):
                return [k]
            return list(k)

        return keys
    pattern = re.compile(key)

    def keys(line):
        return pattern.findall(line) if pattern.groups == 0 else [
            m if isinstance(m, str) else m[0] for m in pattern.findall(line)
        ]

    return keys


def sessions_from_lines(lines: Iterable[str], key: str | Callable = HDFS_BLOCK_KEY):
    """Group lines into sessions by an identifier found in each line.

    Parameters
    ----------
    lines : iterable of str
        Log lines, e.g. from :func:`iter_lines` (streamed, not held twice).
    key : str or callable, default=HDFS_BLOCK_KEY
        ``HDFS_BLOCK_KEY`` is ``r"blk_-?\\d+"`` (HDFS block ids).
        A regular expression whose matches are the session ids of a line, or a
        callable returning an id, a list of ids, or None. A line that mentions
        several ids (an HDFS line naming two blocks) belongs to each session;
        a line that mentions none belongs to no session.

    Returns
    -------
    sessions : list of list of str
        In order of each id's first appearance.
    session_ids : list of str
    line_indices : list of ndarray of int
        For each session, the positions of its lines in ``lines``.

    Examples
    --------
    >>> from sklog.preprocessing import sessions_from_lines
    >>> lines = ["open blk_1", "open blk_2", "close blk_1 blk_2"]
    >>> sessions, ids, idx = sessions_from_lines(lines)
    >>> ids, [i.tolist() for i in idx]
    (['blk_1', 'blk_2'], [[0, 2], [1, 2]])
    """
    keys_of = _key_function(key)
    groups: dict = {}
    positions: dict = {}
    for i, line in enumerate(lines):
        seen = set()
        for k in keys_of(line):
            if k in seen:
                continue
            seen.add(k)
            groups.setdefault(k, []).append(line)
            positions.setdefault(k, []).append(i)
    ids = list(groups)
    return (
        [groups[k] for k in ids],
        ids,
        [np.asarray(positions[k], dtype=np.int64) for k in ids],
    )


def windows_from_lines(lines, size=20, step=None):
    """Cut lines into fixed (``step == size``) or sliding (``step < size``) windows.

    Parameters
    ----------
    lines : sequence of str
    size : int, default=20
        Lines per window. The last window may be shorter.
    step : int, optional
        Distance between window starts; defaults to ``size`` (no overlap).

    Returns
    -------
    sessions : list of list of str
    line_indices : list of ndarray of int

    Examples
    --------
    >>> from sklog.preprocessing import windows_from_lines
    >>> sessions, idx = windows_from_lines(list("abcde"), size=2)
    >>> sessions
    [['a', 'b'], ['c', 'd'], ['e']]
    """
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}.")
    step = size if step is None else step
    if not isinstance(step, (int, np.integer)) or step < 1:
        raise ValueError(f"step must be a positive integer, got {step!r}.")
    lines = lines if isinstance(lines, (list, tuple)) else list(lines)
    n = len(lines)
    starts = range(0, max(n - size, 0) + 1, step) if n >= size else ([0] if n else [])
    starts = list(starts)
    if starts and starts[-1] + size < n:  # a tail the last full window missed
        starts.append(starts[-1] + step)
    windows, indices = [], []
    for s in starts:
        stop = min(s + size, n)
        windows.append(list(lines[s:stop]))
        indices.append(np.arange(s, stop, dtype=np.int64))
    return windows, indices


def time_windows_from_lines(lines, timestamp, size, step=None):
    """Cut time-ordered lines into windows of ``size`` seconds (sliding with ``step``).

    Parameters
    ----------
    lines : sequence of str
    timestamp : callable
        ``timestamp(line) -> float`` seconds (or ``None`` to attach the line to
        the previous timestamp). Lines are assumed in time order.
    size : float
        Window length in seconds.
    step : float, optional
        Distance between window starts in seconds; defaults to ``size``.

    Returns
    -------
    sessions : list of list of str
        Empty windows (gaps in the log) are skipped.
    line_indices : list of ndarray of int

    Examples
    --------
    >>> from sklog.preprocessing import time_windows_from_lines
    >>> lines = ["1 a", "2 b", "65 c"]
    >>> s, _ = time_windows_from_lines(lines, lambda l: float(l.split()[0]), size=60)
    >>> s
    [['1 a', '2 b'], ['65 c']]
    """
    if size <= 0:
        raise ValueError(f"size must be positive, got {size!r}.")
    step = size if step is None else step
    if step <= 0:
        raise ValueError(f"step must be positive, got {step!r}.")
    lines = lines if isinstance(lines, (list, tuple)) else list(lines)
    times = np.empty(len(lines), dtype=float)
    last = np.nan
    for i, line in enumerate(lines):
        t = timestamp(line)
        last = last if t is None else float(t)
        times[i] = last
    valid = ~np.isnan(times)
    if not valid.any():
        return [], []
    t0 = times[valid].min()
    times = np.where(valid, times, t0)
    starts = np.arange(t0, times.max() + step / 2 if step < size else times.max() + 1e-9, step)
    windows, indices = [], []
    lo_pos = np.searchsorted(times, starts, side="left")
    hi_pos = np.searchsorted(times, starts + size, side="left")
    for lo, hi in zip(lo_pos, hi_pos, strict=True):
        if hi > lo:
            windows.append(list(lines[lo:hi]))
            indices.append(np.arange(lo, hi, dtype=np.int64))
    return windows, indices


def labels_from_line_labels(line_labels, line_indices):
    """Session labels from per-line labels: a session is anomalous if any line is.

    ``line_labels`` is a boolean/0-1 array per line; use :func:`bgl_line_labels`
    for BGL/Thunderbird-style logs whose first column is ``-`` for normal lines.
    """
    line_labels = np.asarray(line_labels).astype(bool)
    return np.array([int(line_labels[idx].any()) for idx in line_indices], dtype=np.int64)


def labels_from_table(session_ids, table, default=None):
    """Session labels from an id -> label table (HDFS style ``BlockId,Label``).

    Labels ``"Anomaly"``/``"Abnormal"``/``1``/``True`` map to 1, ``"Normal"``/``0``
    to 0. An id missing from the table raises ``KeyError`` unless ``default``.
    """
    out = np.empty(len(session_ids), dtype=np.int64)
    for i, sid in enumerate(session_ids):
        if sid in table:
            out[i] = _label_value(table[sid])
        elif default is not None:
            out[i] = default
        else:
            raise KeyError(f"Session id {sid!r} has no label in the table.")
    return out


def _label_value(label):
    if isinstance(label, str):
        low = label.strip().lower()
        if low in ("anomaly", "abnormal", "1", "true", "anomalous"):
            return 1
        if low in ("normal", "0", "false", "-"):
            return 0
        raise ValueError(f"Unknown label {label!r}.")
    return int(bool(label))


def bgl_line_labels(lines):
    """Per-line labels of BGL/Thunderbird logs: column 1 is ``-`` for normal lines."""
    return np.array([0 if line.startswith("-") else 1 for line in lines], dtype=np.int64)


def strip_label_column(lines):
    """Drop the BGL/Thunderbird label column, so models never read the answer."""
    return [line.split(" ", 1)[1] if " " in line else "" for line in lines]


class SessionBatch(NamedTuple):
    """A batch of sessions cut from a stream of log lines (see :func:`iter_session_batches`).

    Attributes
    ----------
    sessions : list of list of str
        What a model reads: the lines of each session, without the label
        column when ``label_column=True``.
    raw_lines : list of list of str
        The same lines exactly as read, label column included.
    session_ids : list of str
        The key's match for keyed sessions; ``"lines FIRST-LAST"`` for windows.
    line_numbers : list of ndarray of int
        1-based positions of each session's lines in the whole stream.
    labels : ndarray of int or None
        Session labels from the label column (``1`` when any line is
        anomalous); ``None`` without ``label_column``.
    """

    sessions: list
    raw_lines: list
    session_ids: list
    line_numbers: list
    labels: np.ndarray | None


def iter_session_batches(lines, *, key=None, window=None, batch_size=1000, label_column=False):
    """Cut a stream of log lines into sessions, yielding them in batches of ``batch_size``.

    Exactly one of ``key`` and ``window`` says how. Windows are cut chunk by
    chunk (``window * batch_size`` lines at a time), so memory stays bounded
    however long the stream. Sessions keyed by an id are complete only at the
    end of the stream, so their lines are grouped first (holding the stream's
    lines once) and then handed out in batches.

    Parameters
    ----------
    lines : iterable of str
        Log lines, e.g. :func:`iter_lines` of a file.
    key : str or callable, optional
        Group lines by an id, as in :func:`sessions_from_lines`
        (e.g. :data:`HDFS_BLOCK_KEY`).
    window : int, optional
        Cut non-overlapping windows of ``window`` lines, as
        :func:`windows_from_lines` does; the last window may be shorter.
    batch_size : int, default=1000
        Sessions per batch (the last batch may be smaller).
    label_column : bool, default=False
        The first column of every line is a BGL/Thunderbird label (``-`` on
        normal lines): it is removed from ``sessions`` (see
        :func:`strip_label_column`) and turned into session labels.

    Yields
    ------
    batch : SessionBatch
        Never empty. Sessions, their raw lines, ids, 1-based line numbers and
        labels, in stream order (keyed sessions in order of first appearance).

    Examples
    --------
    >>> from sklog.preprocessing import iter_session_batches
    >>> lines = ["- open", "- read", "FATAL crash", "- close", "- open"]
    >>> for batch in iter_session_batches(lines, window=2, batch_size=2, label_column=True):
    ...     print(batch.session_ids, batch.sessions, batch.labels.tolist())
    ['lines 1-2', 'lines 3-4'] [['open', 'read'], ['crash', 'close']] [0, 1]
    ['lines 5-5'] [['open']] [0]
    >>> lines = ["open blk_1", "open blk_2", "close blk_1"]
    >>> [b.session_ids for b in iter_session_batches(lines, key=HDFS_BLOCK_KEY, batch_size=1)]
    [['blk_1'], ['blk_2']]
    """
    if (key is None) == (window is None):
        raise ValueError("Give exactly one of key (group lines by an id) and window "
                         f"(lines per window); got key={key!r}, window={window!r}.")
    if window is not None and (not isinstance(window, (int, np.integer))
                               or isinstance(window, bool) or window < 1):
        raise ValueError(f"window must be a positive integer, got {window!r}.")
    if (not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool)
            or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if isinstance(key, str):
        try:
            re.compile(key)
        except re.error as exc:
            raise ValueError(f"key {key!r} is not a valid regular expression: {exc}") from None
    elif key is not None and not callable(key):
        raise TypeError(f"key must be a regular expression or a callable, got {key!r}.")
    if key is not None:
        return _keyed_batches(lines, key, batch_size, label_column)
    return _window_batches(lines, window, batch_size, label_column)


def _cut_labelled(lines, label_column, cut):
    """``cut`` the lines (label column removed); session labels from the column, or None."""
    if not label_column:
        return (*cut(lines), None)
    *cut_parts, indices = cut(strip_label_column(lines))
    return (*cut_parts, indices, labels_from_line_labels(bgl_line_labels(lines), indices))


def _keyed_batches(lines, key, batch_size, label_column):
    raw = list(lines)
    sessions, ids, indices, labels = _cut_labelled(
        raw, label_column, lambda lines: sessions_from_lines(lines, key=key))
    for lo in range(0, len(sessions), batch_size):
        hi = lo + batch_size
        yield SessionBatch(sessions[lo:hi], [[raw[k] for k in i] for i in indices[lo:hi]],
                           ids[lo:hi], [i + 1 for i in indices[lo:hi]],
                           None if labels is None else labels[lo:hi])


def _window_batches(lines, window, batch_size, label_column):
    def batch(chunk, offset):
        sessions, indices, labels = _cut_labelled(
            chunk, label_column, lambda lines: windows_from_lines(lines, size=window))
        numbers = [offset + i + 1 for i in indices]
        return SessionBatch(sessions, [[chunk[k] for k in i] for i in indices],
                            [f"lines {n[0]}-{n[-1]}" for n in numbers], numbers, labels)

    chunk, offset = [], 0
    for line in lines:
        chunk.append(line)
        if len(chunk) == window * batch_size:
            yield batch(chunk, offset)
            offset += len(chunk)
            chunk = []
    if chunk:
        yield batch(chunk, offset)
