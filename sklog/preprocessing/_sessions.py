"""Cut a log into sessions before the pipeline; every session keeps its line indices.

No pipeline step changes the number of rows (GUIDE 1), so grouping lines into
sessions happens here, with plain functions. Each returns the sessions and,
per session, the indices of its lines in the input, so any alert can be traced
back to the raw lines. :func:`iter_sessions` and :func:`iter_session_batches`
cut a log of any length the same way, streamed, in bounded memory.
"""

from __future__ import annotations

import os
import re
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from itertools import count, islice
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
    if starts and starts[-1] + size < n and starts[-1] + step < n:  # a tail the last
        starts.append(starts[-1] + step)  # full window missed (never an empty window)
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


def _line_label(line):
    return 0 if line.startswith("-") else 1


def _without_label(line):
    return line.split(" ", 1)[1] if " " in line else ""


def bgl_line_labels(lines):
    """Per-line labels of BGL/Thunderbird logs: column 1 is ``-`` for normal lines."""
    return np.array([_line_label(line) for line in lines], dtype=np.int64)


def strip_label_column(lines):
    """Drop the BGL/Thunderbird label column, so models never read the answer."""
    return [_without_label(line) for line in lines]


#: :func:`iter_sessions`: a keyed session is complete once this many lines went by
#: without a line for it (``max_gap``).
DEFAULT_MAX_GAP = 1_000_000
#: :func:`iter_sessions`: at most this many keyed sessions are held open (``max_open``).
DEFAULT_MAX_OPEN = 100_000


class Session(NamedTuple):
    """One session cut from a stream of log lines (see :func:`iter_sessions`).

    Attributes
    ----------
    lines : list of str
        What a model reads: the session's lines, without the label column
        when ``label_column=True``.
    raw_lines : list of str
        The same lines exactly as read, label column included.
    session_id : str
        The key's match for keyed sessions; ``"lines FIRST-LAST"`` for windows.
    line_numbers : ndarray of int
        1-based positions of the session's lines in the whole stream.
    label : int or None
        ``1`` when any line's label column marks an anomaly, else ``0``;
        ``None`` without ``label_column``.
    """

    lines: list
    raw_lines: list
    session_id: str
    line_numbers: np.ndarray
    label: int | None


def _positive_int(value, name, allow_none=False):
    if allow_none and value is None:
        return
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer{' or None' if allow_none else ''}, "
                         f"got {value!r}.")


def _check_cut(key, window, step, max_gap, max_open):
    """Validate how a stream is cut, before a line is read."""
    if (key is None) == (window is None):
        raise ValueError("Give exactly one of key (group lines by an id) and window "
                         f"(lines per window); got key={key!r}, window={window!r}.")
    if window is not None:
        _positive_int(window, "window")
        _positive_int(step, "step", allow_none=True)
    elif step is not None:
        raise ValueError(f"step applies to windows only (give window), got step={step!r}.")
    _positive_int(max_gap, "max_gap", allow_none=True)
    _positive_int(max_open, "max_open", allow_none=True)
    if isinstance(key, str):
        try:
            re.compile(key)
        except re.error as exc:
            raise ValueError(f"key {key!r} is not a valid regular expression: {exc}") from None
    elif key is not None and not callable(key):
        raise TypeError(f"key must be a regular expression or a callable, got {key!r}.")


def iter_sessions(source, *, key=None, window=None, step=None, max_gap=DEFAULT_MAX_GAP,
                  max_open=DEFAULT_MAX_OPEN, label_column=False):
    """Cut a log file or a stream of lines into sessions, one at a time, in bounded memory.

    Exactly one of ``key`` and ``window`` says how. Lines are read one at a
    time and a session is yielded as soon as it is complete, so memory is
    bounded by the open sessions, never by the length of the log.

    - **Windows** (``window``, ``step``) are complete when their last line is
      read; only the last ``window`` lines are held. They are those of
      :func:`windows_from_lines`.
    - **Keyed sessions** (``key``, e.g. HDFS blocks) interleave across the
      log, and a stream cannot know that an id will never come back. A keyed
      session is taken as complete, and yielded, once ``max_gap`` lines went
      by without a line for it; when more than ``max_open`` sessions are open,
      the one that went longest without a line is yielded early. The sessions
      still open at the end of the stream come out last, in order of first
      appearance. An id met again after its session was yielded starts a new
      session with the same id. When no session's lines lie more than
      ``max_gap`` lines apart and at most ``max_open`` are open at a time, the
      sessions are exactly those of :func:`sessions_from_lines`, in order of
      completion rather than of first appearance; give ``max_gap=None,
      max_open=None`` to always get those, in their order (memory then grows
      with the log). Memory holds the open sessions only: at most
      ``max_open`` of them, none idle for ``max_gap`` lines.

    Parameters
    ----------
    source : str, path-like or iterable of str
        A log file (plain, gzip, bz2 or zstd; read with :func:`iter_lines`)
        or its lines.
    key : str or callable, optional
        Group lines by an id, as in :func:`sessions_from_lines`
        (e.g. :data:`HDFS_BLOCK_KEY`).
    window : int, optional
        Lines per window, as ``size`` in :func:`windows_from_lines`.
    step : int, optional
        Lines between window starts (sliding windows when ``step < window``);
        defaults to ``window``.
    max_gap : int or None, default=DEFAULT_MAX_GAP
        Keyed sessions: lines without a line for a session after which it is
        complete (``None``: only at the end of the stream). The HDFS sample
        needs ``max_gap >= 68_431`` for whole blocks.
    max_open : int or None, default=DEFAULT_MAX_OPEN
        Keyed sessions: most sessions held open at a time (``None``: no cap).
    label_column : bool, default=False
        The first column of every line is a BGL/Thunderbird label (``-`` on
        normal lines): it is removed from ``lines`` (see
        :func:`strip_label_column`) and turned into the session's ``label``.

    Yields
    ------
    session : Session
        ``(lines, raw_lines, session_id, line_numbers, label)``.

    See Also
    --------
    iter_session_batches : The same sessions in batches.

    Examples
    --------
    >>> from sklog.preprocessing import iter_sessions
    >>> lines = ["open blk_1", "open blk_2", "read blk_2", "x", "close blk_2", "close blk_1"]
    >>> [(s.session_id, s.line_numbers.tolist()) for s in iter_sessions(lines, key=HDFS_BLOCK_KEY)]
    [('blk_1', [1, 6]), ('blk_2', [2, 3, 5])]
    >>> [(s.session_id, s.line_numbers.tolist())
    ...  for s in iter_sessions(lines, key=HDFS_BLOCK_KEY, max_gap=2)]
    [('blk_1', [1]), ('blk_2', [2, 3, 5]), ('blk_1', [6])]
    >>> [s.lines for s in iter_sessions(list("abcde"), window=3, step=2)]
    [['a', 'b', 'c'], ['c', 'd', 'e']]
    """
    _check_cut(key, window, step, max_gap, max_open)
    if isinstance(source, (str, bytes, os.PathLike)):
        from ._io import iter_lines

        source = iter_lines(source)
    numbered = _numbered(source, label_column)
    if key is not None:
        return _keyed_sessions(numbered, key, max_gap, max_open, label_column)
    return _window_sessions(numbered, window, window if step is None else step, label_column)


def _numbered(lines, label_column):
    """``(line number, text a model reads, raw line, line label)`` for every line."""
    for number, raw in enumerate(lines, start=1):
        if label_column:
            yield number, _without_label(raw), raw, _line_label(raw)
        else:
            yield number, raw, raw, 0


def _keyed_sessions(numbered, key, max_gap, max_open, label_column):
    keys_of = _key_function(key)
    # id -> [lines, raw lines, line numbers, label, last line number, rank of first
    # appearance], least recently extended first: the sessions to close are at the front
    open_sessions = OrderedDict()
    opened = count()

    def close(session_id, state):
        texts, raws, numbers, label, _, _ = state
        return Session(texts, raws, session_id, np.asarray(numbers, dtype=np.int64),
                       label if label_column else None)

    number = 0
    for number, text, raw, label in numbered:
        for session_id in dict.fromkeys(keys_of(text)):  # each id once, in order
            state = open_sessions.get(session_id)
            if state is None:
                state = open_sessions[session_id] = [[], [], [], 0, number, next(opened)]
                if max_open is not None and len(open_sessions) > max_open:
                    yield close(*open_sessions.popitem(last=False))
            else:
                open_sessions.move_to_end(session_id)
                state[4] = number
            state[0].append(text)
            state[1].append(raw)
            state[2].append(number)
            state[3] |= label
        if max_gap is not None:
            while open_sessions:
                session_id, state = next(iter(open_sessions.items()))
                if number - state[4] < max_gap:  # fewer than max_gap lines without it
                    break
                del open_sessions[session_id]
                yield close(session_id, state)
    for session_id, state in sorted(open_sessions.items(), key=lambda item: item[1][5]):
        yield close(session_id, state)


def _window_sessions(numbered, size, step, label_column):
    held = deque()  # (number, text, raw, label) from the next window's start on
    next_start, covered, skip = 1, 0, 0  # covered: last line number in a full window

    def window(rows):
        numbers = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        return Session([row[1] for row in rows], [row[2] for row in rows],
                       f"lines {numbers[0]}-{numbers[-1]}", numbers,
                       max(row[3] for row in rows) if label_column else None)

    number = 0
    for row in numbered:
        number = row[0]
        if skip:  # lines between two windows (step > size) belong to none
            skip -= 1
            continue
        held.append(row)
        if len(held) == size:
            yield window(held)
            covered = next_start + size - 1
            next_start += step
            if step >= size:
                held.clear()
                skip = step - size
            else:
                for _ in range(step):
                    held.popleft()
    if held and number > covered:  # the tail the last full window missed (may be shorter)
        yield window(held)


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


def iter_session_batches(source, *, key=None, window=None, step=None, batch_size=1000,
                         label_column=False, max_gap=DEFAULT_MAX_GAP,
                         max_open=DEFAULT_MAX_OPEN):
    """Cut a log file or a stream of lines into sessions, yielding them in batches.

    The sessions of :func:`iter_sessions` (same parameters, same bounded
    memory), ``batch_size`` at a time: what a model scores in one call.

    Parameters
    ----------
    source : str, path-like or iterable of str
        A log file (plain, gzip, bz2 or zstd) or its lines, e.g.
        :func:`iter_lines` of a file.
    key : str or callable, optional
        Group lines by an id, as in :func:`sessions_from_lines`
        (e.g. :data:`HDFS_BLOCK_KEY`).
    window : int, optional
        Cut windows of ``window`` lines, as :func:`windows_from_lines` does;
        the last window may be shorter.
    step : int, optional
        Lines between window starts; defaults to ``window`` (no overlap).
    batch_size : int, default=1000
        Sessions per batch (the last batch may be smaller).
    label_column : bool, default=False
        The first column of every line is a BGL/Thunderbird label (``-`` on
        normal lines): it is removed from ``sessions`` (see
        :func:`strip_label_column`) and turned into session labels.
    max_gap, max_open : int or None
        When a keyed session is complete: see :func:`iter_sessions`.

    Yields
    ------
    batch : SessionBatch
        Never empty. Sessions, their raw lines, ids, 1-based line numbers and
        labels, in the order :func:`iter_sessions` yields them.

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
    _positive_int(batch_size, "batch_size")
    sessions = iter_sessions(source, key=key, window=window, step=step, max_gap=max_gap,
                             max_open=max_open, label_column=label_column)
    return _batches(sessions, batch_size, label_column)


def _batches(sessions, batch_size, label_column):
    def batch(chunk):
        return SessionBatch([s.lines for s in chunk], [s.raw_lines for s in chunk],
                            [s.session_id for s in chunk], [s.line_numbers for s in chunk],
                            np.array([s.label for s in chunk], dtype=np.int64)
                            if label_column else None)

    while chunk := list(islice(sessions, batch_size)):
        yield batch(chunk)
