"""Novelty of words (or whole lines) never seen in training: LogLead's out-of-vocabulary rule."""

from __future__ import annotations

import re
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..base import AnomalyDetectorMixin
from ..utils import check_sessions

#: What ``masking=None`` replaces by ``<*>`` before a line is cut into words, in order:
#: ``0x`` hexadecimal values, bare hexadecimal strings of 8+ digits holding a decimal
#: digit, then every run of decimal digits (so ``R02-M1-N0`` becomes ``R<*>-M<*>-N<*>``
#: and timestamps, ids, counters and addresses are never "new").
NOVELTY_MASKING = (
    r"0[xX][0-9a-fA-F]+",
    r"\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}\b",
    r"\d+",
)

_WILDCARD = "<*>"


class NoveltyDetector(AnomalyDetectorMixin, BaseEstimator):
    """Count the words (or lines) of a session that no training session held.

    The out-of-vocabulary rule of LogLead (Mäntylä et al., 2023): ``fit``
    learns the vocabulary of the normal training sessions, and a session is
    anomalous when it holds more than ``threshold`` distinct units never seen
    there. By default that threshold is learned from the training sessions
    themselves, in the order given (chronological for a log): the largest
    number of new units that one of the last ``holdout`` of them holds,
    counted against the vocabulary of the sessions before them.

    A *word* is a whitespace token of a line after ``masking`` (by default
    hexadecimal values and every run of digits become ``<*>``, so
    timestamps, node numbers and counters are never new); with
    ``unit="line"`` the unit is the whole masked line, which is a template
    when the sessions are template strings (e.g. after
    :class:`~sklog.preprocessing.DrainTemplater`).

    Works on raw lines as well as on template strings; each distinct line is
    masked and cut once per call, and sessions become sparse sets of unit ids.

    Parameters
    ----------
    unit : {"word", "line"}, default="word"
        What must be new: a masked whitespace token, or a whole masked line.
    masking : list of str or None, default=None
        Regular expressions whose matches become ``<*>`` before cutting, in
        order. ``None``: :data:`NOVELTY_MASKING`; ``[]`` masks nothing.
    threshold : "auto" or int >= 0, default="auto"
        ``contamination="auto"``: a session is anomalous when it holds more
        than this many distinct new units. ``"auto"``: learned from training
        data only (see ``holdout``); an int is a fixed rule (LogLead's
        out-of-vocabulary detector uses 1).
    holdout : float in (0, 1), default=0.2
        ``threshold="auto"``: the share of the training sessions, the last
        ones, whose new units are counted against the vocabulary of the
        others; the largest count is the threshold. It estimates how many new
        words a *later* normal session brings (fewer than two training
        sessions: 0).
    contamination : "auto" or float in (0, 0.5], default="auto"
        ``"auto"``: the ``threshold`` rule. A float: the threshold is that
        quantile of the training scores (in-sample, where no unit is new, so
        it flags the sessions whose units were rarest in training).

    Attributes
    ----------
    vocabulary_ : dict of str to int
        Column of every unit seen in ``fit``.
    document_frequency_ : ndarray of shape (n_units,)
        Number of training sessions holding each unit.
    n_sessions_fit_ : int
        Training sessions.
    threshold_ : int
        The count of new units a session may hold (``threshold``, or the
        learned one).
    offset_ : float
        ``decision_function = score_samples - offset_``.

    Notes
    -----
    ``-score_samples`` is the number of distinct new units plus a rarity
    term in ``[0, 0.5]``: the mean of ``1 / (2 + df)`` over the session's
    distinct units (``df`` = training sessions holding the unit, 0 when
    new). Its integer part is the count the ``threshold`` rule reads
    (``offset_ = -(threshold_ + 0.5)``); the rarity term only orders sessions
    with equal counts (ranking metrics, float ``contamination``).
    :meth:`explain` shares each unit's part of that score equally among the
    lines holding it, so a session's line weights add up to ``-score_samples``.

    The defaults were chosen on training data of raw BGL (fit on the normal
    June 2005 windows of 20 lines, validate on July): masked whitespace
    tokens ranked best (PR-AUC 0.63; letters-only words 0.49, digits masked
    but not hex 0.58), the count of distinct new words beat their share
    (0.58) and the count of occurrences (0.58), and the learned threshold
    (F1 0.72 on windows, 0.70 on lines) beat the fixed ``threshold=1``
    (0.67, 0.60).

    Examples
    --------
    >>> from sklog.baselines import NoveltyDetector
    >>> normal = [["Read 10 bytes from disk 3", "Closed handle 7"]] * 20
    >>> detector = NoveltyDetector().fit(normal)
    >>> detector.predict([["Read 99 bytes from disk 5"],
    ...                   ["Kernel panic: not syncing", "Closed handle 8"]]).tolist()
    [1, -1]
    """

    _parameter_constraints = {
        "unit": [StrOptions({"word", "line"})],
        "masking": [None, list, tuple],
        "threshold": [StrOptions({"auto"}), Interval(Integral, 0, None, closed="left")],
        "holdout": [Interval(Real, 0, 1, closed="neither")],
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
    }

    def __init__(self, unit="word", masking=None, threshold="auto", holdout=0.2,
                 contamination="auto"):
        self.unit = unit
        self.masking = masking
        self.threshold = threshold
        self.holdout = holdout
        self.contamination = contamination

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the vocabulary of normal sessions.

        Parameters
        ----------
        X : sequence of sessions of strings (raw lines or templates)
        y : array-like of shape (n_sessions,) or None, default=None
            Ignored: every session is learned as normal. Labels with
            anomalies (``1``) in them trigger a ``UserWarning``.

        Returns
        -------
        self : NoveltyDetector
        """
        self._warn_on_anomalies_in_y(y)
        sessions = check_sessions(X, estimator=self)
        units, ids = self._session_units(sessions, {})
        self.vocabulary_ = units
        present = self._presence(ids, len(units))
        self.document_frequency_ = np.asarray(present.sum(axis=0)).ravel().astype(np.int64)
        self.n_sessions_fit_ = len(sessions)
        self.threshold_ = (self._learned_threshold(sessions) if self.threshold == "auto"
                           else int(self.threshold))
        if self.contamination == "auto":
            self.offset_ = -(self.threshold_ + 0.5)
        else:
            scores = self._scores(present, len(units))
            self.offset_ = float(np.quantile(scores, self.contamination)) if len(scores) else 0.0
        return self

    def _learned_threshold(self, sessions):
        """Most new units among the last ``holdout`` sessions, against the ones before."""
        n = len(sessions)
        if n < 2:
            return 0
        n_held = min(n - 1, max(1, int(round(self.holdout * n))))
        known, _ = self._session_units(sessions[: n - n_held], {})
        n_known = len(known)
        vocabulary, ids = self._session_units(sessions[n - n_held :], known)
        present = self._presence(ids, len(vocabulary))
        novel = (np.arange(present.shape[1]) >= n_known).astype(np.float64)
        return int((present @ novel).max())

    # -- cutting lines into units ------------------------------------------------------------

    def _cutter(self):
        """``cut(line) -> list of units`` (the masking compiled once per call)."""
        patterns = [re.compile(p) for p in
                    (NOVELTY_MASKING if self.masking is None else self.masking)]
        whole = self.unit == "line"

        def cut(line):
            for pattern in patterns:
                line = pattern.sub(_WILDCARD, line)
            words = line.split()
            return [" ".join(words)] if whole else words

        return cut

    def _session_units(self, sessions, vocabulary):
        """Unit ids of every line: ``(vocabulary, (session, line, unit) arrays)``.

        ``vocabulary`` grows with every unit not in it (a copy of the fitted one
        at scoring time, so new units get ids past the fitted ones). Each
        distinct line is masked and cut once.
        """
        cut_line, lines = self._cutter(), {}
        line_of = np.fromiter((lines.setdefault(line, len(lines))
                               for s in sessions for line in s), dtype=np.int64)
        cut = [[vocabulary.setdefault(u, len(vocabulary)) for u in cut_line(line)]
               for line in lines]
        per_line = np.array([len(c) for c in cut], dtype=np.int64)
        flat = np.fromiter((u for c in cut for u in c), dtype=np.int64,
                           count=int(per_line.sum()))
        starts = np.concatenate([[0], np.cumsum(per_line)[:-1]]).astype(np.int64)
        n_units = per_line[line_of]
        total = int(n_units.sum())
        # positions of every occurrence's units in ``flat``
        first = np.repeat(starts[line_of] - (np.cumsum(n_units) - n_units), n_units)
        unit = flat[first + np.arange(total)] if total else np.zeros(0, dtype=np.int64)
        lengths = np.array([len(s) for s in sessions], dtype=np.int64)
        session = np.repeat(np.repeat(np.arange(len(sessions)), lengths), n_units)
        position = np.repeat(np.arange(len(line_of)), n_units)
        return vocabulary, (session, position, unit, len(sessions))

    @staticmethod
    def _presence(ids, n_columns):
        """Binary sessions x units matrix: which units each session holds."""
        session, _, unit, n_sessions = ids
        present = sp.csr_matrix((np.ones(len(unit)), (session, unit)),
                                shape=(n_sessions, max(n_columns, 1)))
        present.data[:] = 1.0
        return present

    def _unit_weights(self, n_columns):
        """Each unit's share of the anomaly score: 1 if new, plus its rarity ``1/(2 + df)``."""
        df = np.zeros(max(n_columns, 1))
        df[: len(self.document_frequency_)] = self.document_frequency_
        novel = np.arange(len(df)) >= len(self.document_frequency_)
        return novel.astype(np.float64), 1.0 / (2.0 + df)

    def _scores(self, present, n_columns):
        novel, rarity = self._unit_weights(n_columns)
        n_distinct = np.diff(present.indptr).astype(np.float64)
        mean_rarity = (present @ rarity) / np.maximum(n_distinct, 1.0)
        return 0.0 - (present @ novel + mean_rarity)  # 0.0, not -0.0, for no novelty

    # -- scoring --------------------------------------------------------------------------------

    def _ids(self, X):
        check_is_fitted(self)
        sessions = check_sessions(X, estimator=self)
        vocabulary, ids = self._session_units(sessions, dict(self.vocabulary_))
        return sessions, ids, len(vocabulary)

    def score_samples(self, X):
        """Normality score of each session: minus its count of new units (and rarity).

        Parameters
        ----------
        X : sequence of sessions of strings

        Returns
        -------
        scores : ndarray of shape (n_sessions,)
        """
        _, ids, n_columns = self._ids(X)
        return self._scores(self._presence(ids, n_columns), n_columns)

    def novel_units(self, session):
        """The distinct units of one session never seen in training, in order of appearance.

        Parameters
        ----------
        session : sequence of str

        Returns
        -------
        units : list of str
        """
        check_is_fitted(self)
        (lines,) = check_sessions([session], estimator=self)
        cut, seen = self._cutter(), {}
        for line in lines:
            for u in cut(line):
                if u not in self.vocabulary_:
                    seen.setdefault(u, None)
        return list(seen)

    def explain(self, X):
        """Which lines drove each session's anomaly score.

        Each distinct unit's part of the score (1 when new, plus its rarity
        share) is divided equally among the session's lines holding it, so
        a line with a new word gets at least ``1 / (lines holding it)`` and
        the values of a session add up to ``-score_samples``. Higher means
        more anomalous.

        Parameters
        ----------
        X : sequence of sessions of strings

        Returns
        -------
        contributions : list of ndarray of shape (len(session),)
        """
        sessions, ids, n_columns = self._ids(X)
        session, position, unit, n_sessions = ids
        n_lines = sum(len(s) for s in sessions)
        novel, rarity = self._unit_weights(n_columns)
        # one (line, unit) pair per unit a line holds, however often
        line_unit = np.unique(position * n_columns + unit)
        pos, u = line_unit // n_columns, line_unit % n_columns
        line_session = np.repeat(np.arange(n_sessions), [len(s) for s in sessions])
        s = line_session[pos]
        # lines of the session holding each unit, and distinct units of each session
        keys, group, holders = np.unique(s * n_columns + u, return_inverse=True,
                                         return_counts=True)
        group = group.ravel()
        n_distinct = np.bincount(keys // n_columns, minlength=n_sessions).astype(np.float64)
        share = (novel[u] + rarity[u] / np.maximum(n_distinct[s], 1.0)) / holders[group]
        weights = np.bincount(pos, weights=share, minlength=n_lines)
        bounds = np.cumsum([len(x) for x in sessions])[:-1]
        return np.split(weights, bounds) if n_sessions else []

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = True
        return tags
