"""Input validation for the session data contract (GUIDE section 1 and 5).

Every estimator calls :func:`check_sessions` first, so bad input fails early
with a message that says what was expected, never deep inside a model.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence

import numpy as np

#: Lines longer than this many characters are truncated (with a warning).
DEFAULT_MAX_LINE_LENGTH = 10_000

_EXPECTED = (
    "expected a sequence of sessions, each a sequence of strings "
    "(e.g. [['line 1', 'line 2'], ['line 3']])"
)


class LineTruncationWarning(UserWarning):
    """A log line was longer than ``max_line_length`` and was truncated."""


def _as_text(item, max_line_length):
    if isinstance(item, str):
        text = item
    elif isinstance(item, (bytes, bytearray, memoryview)):
        text = bytes(item).decode("utf-8", errors="replace")
    elif isinstance(item, (numbers.Integral, np.integer)):
        text = str(int(item))
    elif isinstance(item, (numbers.Real, np.floating)):
        if not np.isfinite(item):
            raise ValueError(f"Input contains NaN or infinity: {item!r} in a session; {_EXPECTED}.")
        text = repr(float(item))
    else:
        raise TypeError(
            f"Sessions must contain strings or bytes, got an element of type "
            f"{type(item).__name__}: {item!r:.80}; {_EXPECTED}."
        )
    if max_line_length is not None and len(text) > max_line_length:
        return text[:max_line_length], True
    return text, False


def check_sessions(
    X,
    *,
    allow_numeric=True,
    max_line_length=DEFAULT_MAX_LINE_LENGTH,
    estimator=None,
    copy=True,
):
    """Validate ``X`` as a sequence of sessions and return ``list[list[str]]``.

    Accepted: a list / tuple / 1-D object array of sessions, each a sequence of
    ``str`` or ``bytes`` (decoded as UTF-8 with replacement characters, so no
    line is lost). When ``allow_numeric`` is true a 2-D numeric array is read as
    sessions of event ids (one row per session, each value a token), which is
    how pre-parsed sequence datasets usually come; NaN and infinity raise
    ``ValueError``.

    Parameters
    ----------
    X : sequence of sequences of str or bytes, or 2-D array
        The sessions.
    allow_numeric : bool, default=True
        Whether numeric tokens (a 2-D array of ids) are accepted. Steps that
        need raw text (the templater) pass ``False``.
    max_line_length : int or None, default=10_000
        Longer lines are truncated, with one :class:`LineTruncationWarning`.
    estimator : estimator or str, optional
        Named in error messages.
    copy : bool, default=True
        ``False``: a session that is already a list of ``str`` within
        ``max_line_length`` is returned itself, not a copy (for callers that
        never modify sessions; copying touches every line).

    Returns
    -------
    sessions : list of list of str

    Examples
    --------
    >>> from sklog.utils import check_sessions
    >>> check_sessions([["a", b"b\\xff"], []])
    [['a', 'b\ufffd'], []]
    """
    where = ""
    if estimator is not None:
        name = estimator if isinstance(estimator, str) else type(estimator).__name__
        where = f"{name}: "
    if X is None:
        raise TypeError(f"{where}got None; {_EXPECTED}.")
    if isinstance(X, (str, bytes, bytearray)):
        raise TypeError(
            f"{where}got a single string; {_EXPECTED}. "
            "Wrap one session as [lines], or cut a log into sessions with "
            "sklog.preprocessing.sessions_from_lines / windows_from_lines."
        )
    if hasattr(X, "toarray") or hasattr(X, "tocsr"):
        raise TypeError(f"{where}got a sparse matrix; {_EXPECTED}.")
    if hasattr(X, "__array__") and not isinstance(X, (np.ndarray, Sequence)):
        X = np.asarray(X)  # array-likes such as pandas objects
    if isinstance(X, np.ndarray):
        if X.dtype.kind == "c":
            raise ValueError(f"{where}Complex data not supported; {_EXPECTED}.")
        if X.ndim == 2 and X.dtype.kind in "biuf":
            if not allow_numeric:
                raise TypeError(
                    f"{where}got a 2-D numeric array of shape {X.shape}; this step needs "
                    f"raw text: {_EXPECTED}."
                )
            if X.dtype.kind == "f" and not np.isfinite(X).all():
                raise ValueError(f"{where}Input contains NaN or infinity.")
            if X.shape[0] == 0:
                raise ValueError(f"{where}Found array with 0 sample(s) (shape={X.shape}).")
            if X.shape[1] == 0:
                raise ValueError(
                    f"{where}Found array with 0 feature(s) (shape={X.shape}) while a minimum "
                    "of 1 is required: a 2-D array is read as one session of event ids per row."
                )
            if X.dtype.kind == "f":
                return [[repr(float(v)) for v in row] for row in X]
            return [[str(int(v)) for v in row] for row in X]
        if X.ndim == 2 and X.dtype.kind in "OUS":
            X = list(X)
        elif X.ndim == 1 and X.dtype.kind in "biuf":
            raise ValueError(
                f"{where}Expected 2D array, got 1D array instead: a 1-D numeric array is not "
                f"a sequence of sessions; {_EXPECTED}. Reshape your data with "
                "array.reshape(-1, 1) if it holds one event per session."
            )
        elif X.ndim != 1:
            raise ValueError(f"{where}got an array with {X.ndim} dimensions; {_EXPECTED}.")
    elif not isinstance(X, Sequence) and not hasattr(X, "__iter__"):
        raise TypeError(f"{where}got {type(X).__name__}; {_EXPECTED}.")

    sessions = []
    truncated = 0
    for i, session in enumerate(X):
        if isinstance(session, (str, bytes, bytearray)):
            raise TypeError(
                f"{where}session {i} is a single string, not a sequence of lines; {_EXPECTED}."
            )
        if isinstance(session, np.ndarray) and session.dtype.kind == "f":
            if not np.isfinite(session).all():
                raise ValueError(f"{where}Input contains NaN or infinity (session {i}).")
        if type(session) in (list, tuple):  # the common case, checked in C: text lines
            if len(session) <= 1024:  # short sessions: one pass over their text
                try:
                    chars = len("".join(session))  # TypeError unless every line is a str
                except TypeError:
                    chars = None
            else:  # long ones: no copy of their text
                chars = sum(map(len, session)) if set(map(type, session)) <= {str} else None
            if chars is not None and (
                max_line_length is None or chars <= max_line_length
                or max(map(len, session)) <= max_line_length
            ):
                sessions.append(session if not copy and type(session) is list
                                else list(session))
                continue
        try:
            items = iter(session)
        except TypeError:
            raise TypeError(
                f"{where}session {i} is a {type(session).__name__}, not a sequence of "
                f"lines; {_EXPECTED}."
            ) from None
        out = []
        for item in items:
            if not allow_numeric and not isinstance(item, (str, bytes, bytearray, memoryview)):
                raise TypeError(
                    f"{where}session {i} holds a {type(item).__name__}; this step needs raw "
                    f"text lines: {_EXPECTED}."
                )
            text, cut = _as_text(item, max_line_length)
            truncated += cut
            out.append(text)
        sessions.append(out)
    if not sessions:
        raise ValueError(f"{where}Found 0 sessions; at least one is required.")
    if truncated:
        warnings.warn(
            f"{where}{truncated} line(s) longer than max_line_length={max_line_length} "
            "characters were truncated.",
            LineTruncationWarning,
            stacklevel=2,
        )
    return sessions


def check_session_labels(y, n_sessions):
    """Validate one label per session; return a 1-D numpy array."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (one label per session), got shape {y.shape}.")
    if len(y) != n_sessions:
        raise ValueError(f"Found {n_sessions} sessions but {len(y)} labels.")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError("y contains NaN or infinity.")
    return y
