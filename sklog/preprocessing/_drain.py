"""Template mining with Drain: sessions of raw log lines in, sessions of template strings out.

:class:`DrainTemplater` mines templates with drain3's ``TemplateMiner`` in
``fit`` and keeps only plain Python structures afterwards (no miner, no
jsonpickle), so a fitted templater pickles with ``pickle``/``joblib`` and
loads into an object that transforms identically.

Every line goes through one preprocessing function in ``fit`` and
``transform`` alike: header parsing (``log_format``), masking, stripping.
``transform`` never creates or changes templates. It looks the masked message
up in a dictionary first (training messages keep the template Drain gave them,
repeated messages cost one lookup) and searches the templates only on a miss.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
import sys
from collections import Counter, defaultdict
from importlib import resources
from numbers import Integral, Real
from operator import itemgetter
from typing import NamedTuple

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..utils import DEFAULT_MAX_LINE_LENGTH, check_sessions
from ._batch import BatchMasker

#: Output for a line that matches no template mined in ``fit``.
UNKNOWN_TEMPLATE = "<unknown template>"

#: Drain's wildcard, also what every masked span is replaced with.
WILDCARD = "<*>"

#: Masking regexes used when ``masking=None`` and ``log_format`` is not a preset,
#: applied in order: HDFS block ids, UUIDs (OpenStack instances, requests), IPv4
#: addresses with an optional port, hexadecimal values, then free-standing numbers.
DEFAULT_MASKING = (
    r"blk_-?\d+",
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
    r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?(?![\d.])",
    r"0(?<!\w0)[xX][0-9a-fA-F]+\b",
    r"\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}\b",
    r"(?<![A-Za-z0-9_])[-+]?\d+(?:\.\d+)?(?![A-Za-z0-9_])",
)

_DEFAULT_SIMILARITY_THRESHOLD = 0.4
_SHORTCUTS_PER_STAGE = 20_000
_DEFAULT_DEPTH = 4
#: Lines preprocessed per vectorised batch (bounds the memory of one batch).
_BATCH_LINES = 1 << 17


@functools.lru_cache(maxsize=1)
def _load_presets():
    text = resources.files("sklog.preprocessing").joinpath("_loghub_presets.json").read_text()
    return json.loads(text)["systems"]


def loghub_presets():
    """Drain settings of the 16 loghub systems, bundled with the package.

    Each preset holds the LogPAI ``log_format``, the ``masking_regex`` list, the
    ``similarity_threshold`` and the ``depth`` of the standard parsing benchmark
    (Zhu et al., ICSE-SEIP 2019; settings from logpai/logparser).

    Returns
    -------
    presets : dict
        ``{system name: settings dict}``, a fresh copy.

    Examples
    --------
    >>> from sklog.preprocessing import loghub_presets
    >>> loghub_presets()["HDFS"]["log_format"]
    '<Date> <Time> <Pid> <Level> <Component>: <Content>'
    """
    return json.loads(json.dumps(_load_presets()))


def without_label_field(log_format):
    """``DrainTemplater`` settings for lines whose leading label column was removed.

    Lines labelled in their first column (BGL, Thunderbird: ``-`` or an
    alert tag) lose that column before templating when their labels are read
    from it (:func:`strip_label_column`), so a format that begins with
    ``<Label>`` would read every later field one place off. ``log_format`` is a
    loghub preset name (its masking, threshold and depth are kept) or a format
    string; ``None`` stays ``None``.

    Examples
    --------
    >>> from sklog.preprocessing import without_label_field
    >>> without_label_field("<Label> <Date> <Content>")
    {'log_format': '<Date> <Content>'}
    >>> without_label_field("BGL")["log_format"].split()[:2]
    ['<Timestamp>', '<Date>']
    """
    if log_format is None:
        return {"log_format": None}
    presets = _load_presets()
    names = {name.lower(): name for name in presets}
    settings = {"log_format": log_format}
    if log_format.lower() in names:
        preset = presets[names[log_format.lower()]]
        settings = {"log_format": preset["log_format"],
                    "masking": list(preset.get("masking_regex", DEFAULT_MASKING)),
                    "similarity_threshold": preset["similarity_threshold"],
                    "depth": preset["depth"]}
    settings["log_format"] = settings["log_format"].removeprefix("<Label> ")
    return settings


class _Atom(NamedTuple):
    """One regex atom of a format's literal text, with its quantifier."""

    text: str
    #: class contents of the character the atom must start with (``None``: unknown)
    first: str | None
    #: a run of spaces in the format (compiled to ``\s+``)
    space: bool = False


class _Field(NamedTuple):
    name: str


class _Group(NamedTuple):
    """A ``(...)`` or ``(?:...)`` group of the format that holds fields."""

    opener: str
    alternatives: list
    quantifier: str


_SPACE = _Atom(r"\s+", r"\s", space=True)
_END = _Atom("$", None)
_FIELD_NAME = re.compile(r"<([^<>]+)>")
_GROUP_OPENER = re.compile(r"\((?:\?(?:[:=!]|<[=!]))?")
_QUANTIFIER = re.compile(r"(?:[?*+]|\{\d+(?:,\d*)?\}|\{,\d+\})[?+]?")
_CLASS = re.compile(r"\[\^?\]?(?:\\.|[^\]\\])*\]")


def _parse_format(log_format):
    """A format string as alternatives of items: ``_Atom``, ``_Field``, ``_Group``.

    Groups without fields stay one verbatim atom; fields are checked for
    valid, distinct names.
    """
    pos = 0
    names = []

    def quantifier():
        nonlocal pos
        found = _QUANTIFIER.match(log_format, pos)
        if found is None:
            return ""
        pos = found.end()
        return found.group()

    def alternatives():
        nonlocal pos
        alts = [[]]
        while pos < len(log_format) and log_format[pos] != ")":
            char = log_format[pos]
            items = alts[-1]
            field = _FIELD_NAME.match(log_format, pos)
            if field is not None:
                name = field.group(1)
                if not name.isidentifier():
                    raise ValueError(f"log_format field {field.group()!r} is not a valid field "
                                     "name.")
                if name in names:
                    raise ValueError(f"log_format names the field {field.group()!r} twice.")
                names.append(name)
                items.append(_Field(name))
                pos = field.end()
            elif char == "|":
                alts.append([])
                pos += 1
            elif char == " ":
                while pos < len(log_format) and log_format[pos] == " ":
                    pos += 1
                items.append(_SPACE)
            elif char == "(":
                opener = _GROUP_OPENER.match(log_format, pos).group()
                pos += len(opener)
                inner = alternatives()
                if pos == len(log_format):
                    raise ValueError(f"log_format={log_format!r} has an unclosed '('.")
                pos += 1
                items.append(_group(opener, inner, quantifier()))
            else:
                if char == "\\":
                    text = log_format[pos : pos + 2]
                    escaped = text[1:]
                    known = len(escaped) == 1 and (not escaped.isalnum() or escaped in "dDsSwW")
                    first = text if known else None
                elif char == "[":
                    found = _CLASS.match(log_format, pos)
                    text, first = (found.group() if found else char), None
                else:
                    text, first = char, (None if char in ".^$" else re.escape(char))
                pos += len(text)
                quant = quantifier()
                if quant[:1] in ("?", "*") or quant.startswith(("{0", "{,")):
                    first = None  # may match nothing
                items.append(_Atom(text + quant, first))
        return alts

    top = alternatives()
    if pos < len(log_format):
        raise ValueError(f"log_format={log_format!r} has an unmatched ')'.")
    return top, names


def _group(opener, alternatives, quantifier):
    if not any(_has_field(alt) for alt in alternatives):
        text = opener + "|".join(_verbatim(alt) for alt in alternatives) + ")" + quantifier
        return _Atom(text, None)
    if opener not in ("(", "(?:") or quantifier not in ("", "?", "??"):
        raise ValueError(
            f"a log_format group that holds fields must be '(...)' or '(?:...)', optionally "
            f"followed by '?'; got {opener}...){quantifier}."
        )
    return _Group(opener, alternatives, quantifier)


def _has_field(items):
    return any(isinstance(item, (_Field, _Group)) for item in items)


def _verbatim(items):
    return "".join(item.text for item in items)


def _stops(items, after):
    """Every way the text can continue after a field, up to the next field.

    ``items`` follow the field; ``after`` are the continuations once they are
    done. Each continuation is a tuple of atoms; ``()`` means the next field
    comes at once.
    """
    if not items:
        return after
    head, rest = items[0], items[1:]
    if isinstance(head, _Field):
        return [()]
    if isinstance(head, _Atom):
        return [(head, *stop) for stop in _stops(rest, after)]
    after = _stops(rest, after)
    out = [stop for alt in head.alternatives for stop in _stops(alt, after)]
    if head.quantifier:  # an optional group may be skipped
        out += after
    return list(dict.fromkeys(out))


#: Atomic groups ``(?>...)`` and possessive quantifiers exist from Python 3.11;
#: before, a field is captured by a lookahead (which Python never backtracks
#: into) and consumed by a backreference.
_ATOMIC = sys.version_info >= (3, 11)

#: The character classes whose complement is one escape (faster than ``[^...]``).
_COMPLEMENTS = {r"\s": r"\S", r"\d": r"\D", r"\w": r"\W",
                r"\S": r"\s", r"\D": r"\d", r"\W": r"\w"}


def _field_pattern(name, stops, mode="atomic", before="start"):
    """A field that ends where one of ``stops`` first matches, and never backtracks.

    The field never extends past a position where the text that follows it in
    the format could begin, and is atomic: it has one possible end, so the
    regex engine tries one split of the line per field instead of every split.

    ``mode="strict"`` and ``"loose"`` give the header *prefix* (up to
    ``<Content>``) for an engine without lookarounds or atomic groups (see
    :func:`_header_prefixes`): a strict field holds no character a stop can
    begin with, a loose one any text. The atomic pattern's whitespace runs are
    whole (``\\s+(?!\\s)``); without the lookahead, a field after a run (``before``
    is ``"space"``) whose stop begins with whitespace must not be empty, or the
    stop could begin inside the run: such fields are never empty on a line the
    atomic pattern matches. ``before`` is ``"start"``, ``"space"``, ``"char"`` (a
    character that is not whitespace) or ``"other"`` (a group, a field).
    """
    atomic = mode == "atomic"
    space_stop = any(stop[0].space for stop in stops if stop not in ((), (_END,)))
    if not atomic and space_stop and before == "other":
        raise _NoPrefix(f"<{name}> may begin inside a whitespace run")
    plus = not atomic and space_stop and before == "space"
    if () in stops:  # the next field follows at once: lazy matching leaves this one empty
        return f"(?P<{name}>)" if atomic else ""
    if all(stop == (_END,) for stop in stops):
        if atomic:
            return f"(?P<{name}>.*)"
        if name != "Content":
            raise _NoPrefix(f"the field <{name}> ends the line")
        return _CONTENT
    firsts = [stop[0].first for stop in stops if stop != (_END,)]
    if not atomic:  # the exact lookaround-free field where there is one, in every mode
        body = _stop_free(stops)
        if body is not None:
            if plus:  # \S* or (?:\S|...)*: begin with a character that is not whitespace
                body = r"\S+" if body == r"\S*" else r"\S" + body
            return body
        if mode == "exact":
            raise _NoPrefix(f"no lookaround-free pattern for <{name}>")
        if mode == "loose":
            return ".*"
    if None in firsts or (_END,) in stops:
        if not atomic:
            raise _NoPrefix(f"the text after <{name}> may begin with any character")
        firsts = [None]
    if not atomic:  # strict
        chars = "".join(dict.fromkeys(firsts))
        return _COMPLEMENTS.get(chars, f"[^{chars}]") + ("+" if plus else "*")
    # A whitespace run is tried from its first character only: a stop that
    # begins with one matches inside the run only if it matches at its start.
    stop = "|".join((r"(?<!\s)" if stop[0].space else "") + "".join(a.text for a in stop)
                    for stop in stops)
    if None in firsts:
        body = f"(?:(?!{stop}).)*"
    else:  # runs of characters no stop can begin with are skipped in one fast step
        chars = "".join(dict.fromkeys(firsts))
        other = _COMPLEMENTS.get(chars, f"[^{chars}]")
        body = f"{other}*(?:(?!{stop})[{chars}]{other}*)*"
    if _ATOMIC:
        return f"(?P<{name}>(?>{body}))"
    return f"(?=(?P<{name}>{body}))(?P={name})"


def _char(first):
    """The one character an atom's ``first`` spells (``':'``, ``'\\['``), or ``None`` (a class)."""
    if len(first) == 2 and first[0] == "\\" and not first[1].isalnum():
        return first[1]
    return first if len(first) == 1 else None


def _run_avoids(run, chars):
    """Whether the class of ``run`` (an atom repeated) holds none of ``chars``."""
    if run.space:
        return not any(ch.isspace() for ch in chars)
    return _char(run.first) not in (None, *chars)


def _stop_free(stops):
    """Text in which no stop of ``stops`` begins, then one of them (lookaround-free), or ``None``.

    For the stops of the loghub formats: one character ``c`` alone (``[^c]*``),
    a whitespace run alone (``\\S*``), ``c`` then a run of class ``d`` (no ``c``
    followed by a ``d``: ``(?:[^c]|c+[^cd])*c*``), or a whitespace run then one
    character ``x`` (no whitespace run followed by ``x``, and no trailing
    whitespace, as a stop there would begin inside the run:
    ``(?:\\S|\\s+[^\\sx])*``), or ``c`` then ``e`` then a run of ``d``
    (``\\]:\\s+``: no ``c e d`` anywhere, an automaton of three states written
    out). Several stops: characters ``S`` and at most one ``c`` then a run of
    ``d``, all distinct (``<Component>(\\[<PID>\\])?: ``: ``(?:[^Sc]|c+[^Scd])*c*``).
    Each has one way to match a line, the field of the atomic pattern.
    """
    def single(atom):  # one character, no quantifier
        return not atom.space and atom.first is not None and atom.text == atom.first

    def run(atom):  # a run of one character class
        return atom.space or (atom.first is not None and atom.text == atom.first + "+")

    if len(stops) > 1:
        if not all(single(stop[0]) for stop in stops):
            return None
        chars = [_char(stop[0].first) for stop in stops]
        pairs = [stop for stop in stops if len(stop) == 2 and run(stop[1])]
        if (None in chars or len(set(chars)) != len(chars) or len(pairs) > 1
                or any(len(stop) != 1 for stop in stops if stop not in pairs)):
            return None
        if not pairs:
            return f"[^{''.join(stop[0].first for stop in stops)}]*"
        (head, tail), = pairs
        if not _run_avoids(tail, chars):
            return None
        others = "".join(stop[0].first for stop in stops if stop != pairs[0])
        c, d = head.first, tail.first
        return f"(?:[^{others}{c}]|{c}+[^{others}{c}{d}])*{c}*"
    stop = stops[0]
    if len(stop) == 1:
        if stop[0].space:
            return r"\S*"
        return f"[^{stop[0].first}]*" if single(stop[0]) else None
    if len(stop) == 2:
        head, tail = stop
        if single(head) and run(tail):
            c, d = head.first, tail.first
            return f"(?:[^{c}]|{c}+[^{c}{d}])*{c}*"
        if head.space and single(tail):
            return rf"(?:\S|\s+[^\s{tail.first}])*"
    if len(stop) == 3:  # c, then e, then a run of d (``\]:\s+``): no c e d anywhere
        head, middle, tail = stop
        if single(head) and single(middle) and run(tail):
            chars = [_char(head.first), _char(middle.first)]
            if None not in chars and chars[0] != chars[1] and _run_avoids(tail, chars):
                c, e, d = head.first, middle.first, tail.first
                cs = f"{c}+(?:{e}{c}+)*"  # one or more c, each e between them followed by c
                return f"(?:[^{c}]|{cs}(?:[^{c}{e}]|{e}[^{c}{d}]))*(?:{cs}{e}?)?"
    return None


class _NoPrefix(ValueError):
    """The format has no header prefix for a lookaround-free regex engine."""


#: Where ``<Content>`` begins in a header prefix pattern.
_CONTENT = "\x00CONTENT\x00"


def _format_pattern(items, after, mode="atomic", top=True):
    out = []
    for k, item in enumerate(items):
        if isinstance(item, _Atom):
            # a run of spaces takes the whole whitespace run, never part of it
            out.append((r"\s+(?!\s)" if mode == "atomic" else r"\s+") if item.space
                       else item.text)
        elif isinstance(item, _Field):
            previous = items[k - 1] if k else None
            if previous is None:
                before = "start" if top else "other"
            elif isinstance(previous, _Atom) and previous.space:
                before = "space"
            elif isinstance(previous, _Atom) and previous.first is not None:
                before = "char"
            else:
                before = "other"
            out.append(_field_pattern(item.name, _stops(items[k + 1 :], after), mode, before))
        else:
            rest = _stops(items[k + 1 :], after)
            out.append(item.opener + "|".join(_format_pattern(alt, rest, mode, top=False)
                                              for alt in item.alternatives)
                       + ")" + item.quantifier)
    return "".join(out)


@functools.lru_cache(maxsize=64)
def _header_prefixes(log_format):
    """``(strict, loose)`` header-prefix regexes for a lookaround-free engine, or ``None``.

    Both match from the start of a stripped line to where ``<Content>`` begins.
    On an ASCII line (see ``_batch``), ``strict`` matching means
    :func:`log_format_regex` matches with ``<Content>`` after the same prefix:
    each strict field stops at the first character a stop can begin with, and
    the format's text must follow right there, as the atomic field would stop
    there too. ``loose`` fields take any text, so a line that ``loose`` does not
    match cannot fit the format. Lines between the two need the exact pattern.
    ``loose`` is ``None`` when every field has an exact lookaround-free form
    (:func:`_stop_free`): ``strict`` is then exactly the atomic pattern's prefix.
    ``None`` when ``<Content>`` does not end the format or a stop can begin
    with any character.
    """
    alternatives, _ = _parse_format(log_format)
    if len(alternatives) != 1:
        return None
    try:  # exact: every field has a lookaround-free form; no line needs the atomic pattern
        exact = _format_pattern(alternatives[0], [(_END,)], "exact")
        if exact.endswith(_CONTENT) and exact.count(_CONTENT) == 1:
            return "^" + exact[: -len(_CONTENT)], None
    except _NoPrefix:
        pass
    try:
        patterns = [_format_pattern(alternatives[0], [(_END,)], mode)
                    for mode in ("strict", "loose")]
    except _NoPrefix:
        return None
    if any(not p.endswith(_CONTENT) or p.count(_CONTENT) != 1 for p in patterns):
        return None
    return tuple("^" + p[: -len(_CONTENT)] for p in patterns)


def log_format_regex(log_format):
    """Compile a LogPAI format string such as ``'<Date> <Time> <Level>: <Content>'``.

    ``<Name>`` marks a field; the text between fields is a regular expression
    (escape ``[``, ``|``, ``(`` as LogPAI does, e.g. ``\\[<Pid>\\]``), and runs
    of spaces match a whole run of whitespace. The format must name
    ``<Content>``, the message Drain mines. Groups that hold fields must be
    ``(...)`` or ``(?:...)``, optionally followed by ``?``, as in
    ``<Component>(\\[<PID>\\])?: <Content>``.

    A field ends where the text that follows it in the format (up to the next
    field) first appears: a field followed by ``': '`` ends at the first
    ``': '``, one followed by a space at the first whitespace, one followed by
    ``\\]`` at the first ``]``. These are the fields LogPAI's lazy ``(.*?)``
    groups find on well-formed lines (the 16 loghub 2k samples are parsed
    identically), but a field is never split again when the rest of the line
    does not fit, so matching takes time linear in the line length, where
    LogPAI's pattern backtracks for minutes on a long line that does not fit.
    The last field takes the rest of the line. A line that holds a line break
    (other than a last one) does not fit: fields and message are parts of one
    line.

    Examples
    --------
    >>> from sklog.preprocessing import log_format_regex
    >>> log_format_regex("<Level>: <Content>").match("INFO: disk ok").group("Content")
    'disk ok'
    """
    alternatives, names = _parse_format(log_format)
    if "Content" not in names:
        raise ValueError(
            f"log_format={log_format!r} has no <Content> field; name the message part "
            "<Content>, pass a loghub preset name, or pass None to mine whole lines."
        )
    pattern = "|".join(_format_pattern(alt, [(_END,)]) for alt in alternatives)
    # A line break (but a last one) never fits: fields and message are parts of one line.
    single_line = r"(?=[^\n]*+\n?\Z)" if _ATOMIC else r"(?=[^\n]*\n?\Z)"
    try:
        return re.compile(f"^{single_line}(?:{pattern})$")
    except re.error as exc:
        raise ValueError(f"log_format={log_format!r} is not a valid pattern: {exc}") from None


def _compile_masks(masking):
    compiled = []
    for pattern in masking:
        if not isinstance(pattern, str):
            raise TypeError(
                f"masking must be a list of regular expressions (str), got an element "
                f"{pattern!r} of type {type(pattern).__name__}."
            )
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            raise ValueError(f"masking pattern {pattern!r} is not valid: {exc}") from None
    return compiled


def _template_matchers(templates):
    """Group templates by token count, most specific first, for exact wildcard matching."""
    by_length = defaultdict(list)
    for index, tokens in enumerate(templates):
        positions = tuple(i for i, tok in enumerate(tokens) if tok != WILDCARD)
        values = tuple(tokens[i] for i in positions)
        by_length[len(tokens)].append((len(tokens) - len(positions), index, positions, values))
    matchers = {}
    for length, entries in by_length.items():
        entries.sort(key=lambda e: (e[0], e[1]))  # fewest wildcards, then mining order
        out = []
        for _, index, positions, values in entries:
            if not positions:
                out.append((None, None, index))
            elif len(positions) == 1:
                out.append((itemgetter(positions[0]), values[0], index))
            else:
                out.append((itemgetter(*positions), values, index))
        matchers[length] = out
    matchers["longest"] = max(by_length, default=0)
    return matchers


def _search(message, matchers):
    """Index of the most specific template that ``message``'s tokens match exactly, or -1.

    A message with more tokens than the longest template is not split whole.
    """
    tokens = message.split(None, matchers["longest"])
    for getter, values, index in matchers.get(len(tokens), ()):
        if getter is None or getter(tokens) == values:
            return index
    return -1


def _regroup(flat, sessions):
    """One list per session, cut from ``flat`` (one item per line of ``sessions``)."""
    out = []
    start = 0
    for session in sessions:
        end = start + len(session)
        out.append(flat[start:end])
        start = end
    return out


class DrainTemplater(TransformerMixin, BaseEstimator):
    """Mine log templates with Drain and map raw lines to template strings.

    ``fit`` runs drain3's ``TemplateMiner`` over every line of every session.
    ``transform`` only matches: a line gets the template Drain assigned to the
    same masked message during ``fit``, else the most specific mined template
    it matches exactly (constant tokens equal, ``<*>`` matches any one token),
    else :data:`UNKNOWN_TEMPLATE` (``'<unknown template>'``). Rows stay rows:
    each session of lines becomes a session of template strings.

    Parameters
    ----------
    log_format : str or None, default=None
        How to find the message in a line. ``None``: the whole line is the
        message. A LogPAI format string such as
        ``'<Date> <Time> <Level> <Component>: <Content>'`` (see
        :func:`log_format_regex`): only ``<Content>`` is mined. Or the name of
        a loghub system (``'HDFS'``, ``'BGL'``, ... see :func:`loghub_presets`),
        which also supplies that system's masking, threshold and depth. A line
        that does not fit the format is mined whole, it is never dropped.
        Finding the header takes time linear in the line length, whether the
        line fits or not.
    masking : list of str or None, default=None
        Regular expressions applied in order; each match is replaced by ``<*>``
        before mining. ``None``: the preset's regexes, or
        :data:`DEFAULT_MASKING` (block ids, UUIDs, IPs, hex values, numbers)
        when ``log_format`` is not a preset. ``[]`` masks nothing.
    similarity_threshold : float in [0, 1] or None, default=None
        Share of equal tokens a message needs to join a template while mining.
        ``None``: the preset's value, else 0.4.
    depth : int >= 3 or None, default=None
        Depth of Drain's parse tree (root and leaves included). ``None``: the
        preset's value, else 4.
    max_children : int >= 2, default=100
        Children per internal tree node before tokens share a wildcard node.
    max_clusters : int or None, default=None
        Keep at most this many templates while mining (least recently used
        are dropped); ``None``: no limit.
    max_line_length : int or None, default=10_000
        Longer lines are truncated to this many characters, with a warning.
    n_jobs : int or None, default=None
        Chunks of sessions ``transform`` maps at once through joblib; ``None``
        means 1, ``-1`` every worker of the active joblib backend (all CPUs, or
        a Dask cluster's threads under ``joblib.parallel_backend("dask")``).
        Mining in ``fit`` is sequential by nature.
    engine : {"auto", "polars", "python"}, default="auto"
        How lines are preprocessed. ``"polars"``: header parsing and masking
        of whole batches of lines in polars' Rust regex engine, on polars'
        thread pool (``POLARS_MAX_THREADS``, all cores by default), and mining
        that skips repeated messages whose result cannot have changed (see
        Notes); ``"python"``: line by line with ``re`` and every line given to
        Drain. Both give the same templates on every line. ``"auto"``: polars
        where it imports.

    Attributes
    ----------
    templates_ : list of str
        The distinct templates mined in ``fit``, in order of discovery.
    template_counts_ : ndarray of int64
        Training lines mapped to each template by ``transform``.
    log_format_ : str or None
        The resolved format string.
    masking_ : list of str
        The masking regexes used.
    similarity_threshold_ : float
        The similarity threshold used.
    depth_ : int
        The tree depth used.

    See Also
    --------
    sklog.preprocessing.sessions_from_lines : cut a log into sessions first.

    Notes
    -----
    Templates are the ones of Drain (He et al., ICWS 2017) as implemented by
    drain3, with LogPAI's preprocessing: the same masking, then stripping, in
    ``fit`` and ``transform`` (drain3's own ``match`` can disagree with
    ``add_log_message`` on messages with surrounding whitespace). As in
    LogPAI's reference Drain, on which the published loghub accuracies were
    measured, a message with fewer than ``depth - 2`` tokens is never merged
    with others: it is its own template. Two Drain clusters that end with the
    same template text are one template here; a masked message that Drain put
    in several clusters keeps the one that holds most of its lines.

    The polars engine (the default where polars imports) preprocesses lines
    in batches of about 130,000 (header, masking and stripping in Rust, one
    lazy query per batch on polars' thread pool; lines and regexes on which
    Rust and Python could differ go through ``re``) and looks each unique
    masked message of a batch up once. Drain's result
    depends on the order of messages, so mining still meets every line in
    order; a repeated message is only not given to Drain again while nothing
    in Drain's tree for its token count has changed since it was last added,
    the case where adding it again provably changes nothing but a cluster's
    size. Both engines give the same templates on every line (tested on the
    16 loghub samples, and measured on the HDFS and BGL raw samples by
    ``python -m sklog.benchmarks.templating``).

    ``transform`` looks each masked message up in a dictionary (every message
    seen in ``fit``, plus those met earlier in the same call), so repeated
    messages cost one lookup after masking; only new messages are searched.
    Texts that recurred in ``fit`` part-way through masking are looked up
    before the remaining regexes too (masking is a fixed sequence of
    substitutions, so the result is the same), which skips most regex work
    on repetitive logs.
    With the loghub presets the templater reproduces Drain's published
    grouping accuracy on all 16 loghub 2k samples (mean 0.865);
    ``python -m sklog.benchmarks.templating`` measures it.

    A fitted templater holds only strings, compiled regexes and numbers, so it
    pickles without drain3 or jsonpickle. Like any pickle, load it only from a
    source you trust: unpickling can execute code.

    Examples
    --------
    >>> from sklog.preprocessing import DrainTemplater
    >>> sessions = [["open file a.txt", "read 10 bytes"], ["open file b.txt"]]
    >>> templater = DrainTemplater().fit(sessions)
    >>> templater.templates_
    ['open file <*>', 'read <*> bytes']
    >>> templater.transform([["open file c.txt", "delete everything"]])
    [['open file <*>', '<unknown template>']]
    """

    _parameter_constraints = {
        "log_format": [str, None],
        "masking": ["array-like", None],
        "similarity_threshold": [Interval(Real, 0, 1, closed="both"), None],
        "depth": [Interval(Integral, 3, None, closed="left"), None],
        "max_children": [Interval(Integral, 2, None, closed="left")],
        "max_clusters": [Interval(Integral, 1, None, closed="left"), None],
        "max_line_length": [Interval(Integral, 1, None, closed="left"), None],
        "n_jobs": [Integral, None],
        "engine": [StrOptions({"auto", "polars", "python"})],
    }

    def __init__(
        self,
        log_format=None,
        *,
        masking=None,
        similarity_threshold=None,
        depth=None,
        max_children=100,
        max_clusters=None,
        max_line_length=DEFAULT_MAX_LINE_LENGTH,
        n_jobs=None,
        engine="auto",
    ):
        self.log_format = log_format
        self.masking = masking
        self.similarity_threshold = similarity_threshold
        self.depth = depth
        self.max_children = max_children
        self.max_clusters = max_clusters
        self.max_line_length = max_line_length
        self.n_jobs = n_jobs
        self.engine = engine

    # ------------------------------------------------------------------ settings
    def _resolve_settings(self):
        preset = {}
        log_format = self.log_format
        if log_format is not None and "<" not in log_format:
            presets = _load_presets()
            names = {name.lower(): name for name in presets}
            if log_format.lower() not in names:
                raise ValueError(
                    f"log_format={log_format!r} is neither a format string with a <Content> "
                    f"field nor a loghub preset; presets: {sorted(presets)}."
                )
            preset = presets[names[log_format.lower()]]
            log_format = preset["log_format"]
        masking = self.masking
        if masking is None:
            masking = preset.get("masking_regex", DEFAULT_MASKING)
        self.log_format_ = log_format
        self.masking_ = list(masking)
        self.similarity_threshold_ = float(
            self.similarity_threshold
            if self.similarity_threshold is not None
            else preset.get("similarity_threshold", _DEFAULT_SIMILARITY_THRESHOLD)
        )
        self.depth_ = int(self.depth if self.depth is not None else preset.get("depth",
                                                                               _DEFAULT_DEPTH))
        self._format_regex = None if log_format is None else log_format_regex(log_format)
        self._mask_regexes = _compile_masks(self.masking_)

    def _stages(self):
        """The one preprocessing of fit and transform, as ``(contents, mask_subs)``.

        ``contents(lines)`` reduces each line that fits ``log_format`` to its
        ``<Content>`` (other lines stay whole); each of ``mask_subs`` then
        replaces its regex's matches by ``<*>``, in order; the result is stripped
        (LogPAI's order). The masked, stripped text is the *masked message*.
        """
        header_match = None if self._format_regex is None else self._format_regex.match
        subs = [regex.sub for regex in self._mask_regexes]

        def contents(lines):
            if header_match is None:
                return list(lines)
            out = []
            append = out.append
            for line in lines:
                found = header_match(line.strip())
                content = None if found is None else found.group("Content")
                # a format's alternative without <Content> fits no better than none
                append(line if content is None else content)
            return out

        return contents, subs

    def __setstate__(self, state):
        state.setdefault("engine", "auto")  # templaters pickled before the parameter existed
        super().__setstate__(state)

    def _use_polars(self):
        engine = self.engine
        if engine == "python":
            return False
        try:
            import polars  # noqa: F401
        except ImportError:
            if engine == "polars":
                raise ImportError("DrainTemplater(engine='polars') needs polars: "
                                  "pip install polars") from None
            return False
        return True

    def _masker(self):
        """The same preprocessing as :meth:`_stages`, on whole batches of lines (``_batch``)."""
        contents, subs = self._stages()

        def python_path(lines):
            texts = contents(lines)
            for sub in subs:
                texts = [sub(WILDCARD, text) for text in texts]
            return [text.strip() for text in texts]

        if self._format_regex is None:
            return BatchMasker(python_path, None, None, self.masking_, WILDCARD)
        return BatchMasker(python_path, contents, _header_prefixes(self.log_format_),
                           self.masking_, WILDCARD)

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Mine templates from every line of every session.

        Parameters
        ----------
        X : sequence of sequences of str or bytes
            Sessions of raw log lines.
        y : ignored

        Returns
        -------
        self : DrainTemplater
        """
        self._fit(X)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit, then map every line to its template: ``fit(X).transform(X)``.

        With the polars engine each line is preprocessed once, for mining and
        mapping alike.

        Parameters
        ----------
        X : sequence of sequences of str or bytes
            Sessions of raw log lines.
        y : ignored

        Returns
        -------
        sessions : list of list of str
        """
        sessions, messages = self._fit(X, keep_messages=True)
        if messages is None:
            return self.transform(sessions)
        template_of = self._template_of()
        table = {masked: template_of(masked) for masked in dict.fromkeys(messages)}
        return _regroup(list(map(table.__getitem__, messages)), sessions)

    def _fit(self, X, keep_messages=False):
        """Fit; return the validated sessions and, with the polars engine and
        ``keep_messages``, the masked message of every line."""
        from drain3 import TemplateMiner
        from drain3.template_miner_config import TemplateMinerConfig

        sessions = check_sessions(
            X, allow_numeric=False, max_line_length=self.max_line_length, estimator=self,
            copy=False,  # never modified here
        )
        self._resolve_settings()

        config = TemplateMinerConfig()
        config.drain_sim_th = self.similarity_threshold_
        config.drain_depth = self.depth_
        config.drain_max_children = self.max_children
        config.drain_max_clusters = self.max_clusters
        config.masking_instructions = []  # masked once by our preprocessing, shared with transform
        config.mask_prefix, config.mask_suffix = "<", ">"  # Drain's wildcard is "<*>"
        config.parametrize_numeric_tokens = True
        miner = TemplateMiner(config=config)
        # The miner's Drain directly: TemplateMiner.add_log_message would only add
        # an empty masking pass and a result dict per line.
        if self._use_polars():
            messages = [] if keep_messages else None
            assigned = self._mine_batches(sessions, miner.drain, messages)
            self._resolve_templates(assigned, miner.drain.id_to_cluster)
            self._shortcuts = [{} for _ in self._mask_regexes]
            return sessions, messages
        assigned, seen_counts, seen_masked = self._mine_lines(sessions, miner.drain)
        self._resolve_templates(assigned, miner.drain.id_to_cluster)
        self._shortcuts = self._stage_shortcuts(seen_counts, seen_masked)
        return sessions, None

    def _mine_lines(self, sessions, drain):
        """Drain over every line, preprocessed line by line (``engine="python"``).

        Also records, per masking stage, the texts met before it (for the
        shortcuts of :meth:`_stage_shortcuts`).
        """
        add = drain.add_log_message
        contents, subs = self._stages()
        # Like LogPAI's reference Drain (on which the published accuracies were
        # measured), a message with fewer tokens than the tree has token levels
        # is its own template: too few tokens to judge similarity.
        min_tokens = self.depth_ - 2
        # masked message -> {cluster id (None: its own template): lines}
        assigned = {}
        # per masking stage: text before that mask -> (lines, masked message); two
        # flat dicts rather than one of lists, so the garbage collector has less to scan
        seen_counts = [{} for _ in subs]
        seen_masked = [{} for _ in subs]
        for session in sessions:
            texts = contents(session)
            layers = []
            for sub in subs:
                layers.append(texts)
                texts = [sub(WILDCARD, text) for text in texts]
            messages = [text.strip() for text in texts]
            for masked in messages:
                if len(masked.split()) < min_tokens:
                    cluster_id = None
                else:
                    cluster_id = add(masked)[0].cluster_id
                by_cluster = assigned.get(masked)
                if by_cluster is None:
                    assigned[masked] = {cluster_id: 1}
                else:
                    by_cluster[cluster_id] = by_cluster.get(cluster_id, 0) + 1
            for counts, first, before in zip(seen_counts, seen_masked, layers, strict=True):
                for text, masked in zip(before, messages, strict=True):
                    n = counts.get(text)
                    if n is None:
                        counts[text] = 1
                        first[text] = masked
                    else:
                        counts[text] = n + 1
        return assigned, seen_counts, seen_masked

    def _mine_batches(self, sessions, drain, keep=None):
        """Drain over every line in order, preprocessed in batches (``engine="polars"``).

        A message met again is given to Drain again only when Drain's tree for
        its token count changed since it was last added. Otherwise adding it
        would change nothing but a cluster's size: it found cluster ``C`` and
        ``C``'s template now covers it with the same similarity (its wildcards
        grew exactly where the two differed) and at least as many parameters,
        so ``C`` still wins the same comparison, and a match never changes the
        tree. A message that founded ``C`` finds it again when its own
        similarity to ``C`` (its share of non-wildcard tokens) reaches the
        threshold. With ``max_clusters`` every line goes to Drain, since the
        least-recently-used order depends on every line. ``keep``: a list that
        receives every line's masked message.
        """
        add = drain.add_log_message
        masker = self._masker()
        min_tokens = self.depth_ - 2
        threshold = self.similarity_threshold_
        skip_repeats = self.max_clusters is None
        versions = {}  # token count -> changes to that part of Drain's tree
        versions_get = versions.get
        # masked message -> (cluster id, token count, that count's version after adding it);
        # version None: never given to Drain (too few tokens), valid forever
        settled = {}
        settled_get = settled.get
        assigned = {}
        lines = itertools.chain.from_iterable(sessions)
        while batch := list(itertools.islice(lines, _BATCH_LINES)):
            messages = masker(batch)
            if keep is not None:
                keep.extend(messages)
            cluster_ids = []
            append = cluster_ids.append
            for masked in messages:
                entry = settled_get(masked)
                if entry is not None:
                    cluster_id, n, version = entry
                    if version is None or versions_get(n, 0) == version:
                        append(cluster_id)
                        continue
                else:
                    n = len(masked.split())
                    if n < min_tokens:  # LogPAI: too few tokens to judge similarity
                        settled[masked] = (None, n, None)
                        append(None)
                        continue
                cluster, update = add(masked)
                version = versions_get(n, 0)
                if update != "none":
                    version = versions[n] = version + 1
                if skip_repeats and (
                    update != "cluster_created"
                    or sum(token != WILDCARD for token in cluster.log_template_tokens) / n
                    >= threshold  # as Drain compares
                ):
                    settled[masked] = (cluster.cluster_id, n, version)
                elif entry is not None:
                    del settled[masked]
                append(cluster.cluster_id)
            pairs = Counter(zip(messages, cluster_ids, strict=True))
            for (masked, cluster_id), count in pairs.items():
                by_cluster = assigned.get(masked)
                if by_cluster is None:
                    assigned[masked] = {cluster_id: count}
                else:
                    by_cluster[cluster_id] = by_cluster.get(cluster_id, 0) + count
        return assigned

    def _resolve_templates(self, assigned, clusters):
        """Fitted lookup tables from the mining assignments of each masked message.

        A message that Drain put in several clusters keeps the one holding most of
        its lines (the first on ties); one whose clusters were all dropped by
        ``max_clusters`` is matched like an unseen message. Clusters that end
        with the same template text are one template.
        """
        template_index = {}
        counts = []
        known = {}
        deferred = []
        for masked, by_cluster in assigned.items():
            text = None
            for cluster_id, _ in sorted(by_cluster.items(), key=lambda kv: -kv[1]):
                if cluster_id is None:
                    text = " ".join(masked.split())
                    break
                cluster = clusters.get(cluster_id)
                if cluster is not None:
                    text = cluster.get_template()
                    break
            if text is None:
                deferred.append(masked)
                continue
            index = template_index.setdefault(text, len(template_index))
            if index == len(counts):
                counts.append(0)
            counts[index] += sum(by_cluster.values())
            known[masked] = index
        for cluster_id in sorted(clusters.keys()):  # mined templates no message kept
            text = clusters.get(cluster_id).get_template()
            if template_index.setdefault(text, len(template_index)) == len(counts):
                counts.append(0)
        self.templates_ = list(template_index)
        self._template_tokens = [tuple(t.split()) for t in self.templates_]
        if deferred:
            matchers = _template_matchers(self._template_tokens)
            for masked in deferred:
                index = known[masked] = _search(masked, matchers)
                if index >= 0:
                    counts[index] += sum(assigned[masked].values())
        self.template_counts_ = np.asarray(counts, dtype=np.int64)
        outputs = [*self.templates_, UNKNOWN_TEMPLATE]  # index -1 is the unknown token
        self._known = {masked: outputs[index] for masked, index in known.items()}

    def _stage_shortcuts(self, seen_counts, seen_masked):
        """Per masking stage, texts seen at least twice in fit -> their template.

        Masking is a fixed sequence of substitutions, so a text met before
        stage ``k`` always ends as the same masked message: looking it up skips
        the remaining (costly) regexes. Only repeated texts are kept, at most
        ``_SHORTCUTS_PER_STAGE`` per stage, most frequent first.
        """
        shortcuts = []
        for counts, first in zip(seen_counts, seen_masked, strict=True):
            repeated = [(n, text) for text, n in counts.items() if n >= 2]
            repeated.sort(key=lambda r: -r[0])
            known = self._known
            shortcuts.append(
                {text: known[first[text]] for _, text in repeated[:_SHORTCUTS_PER_STAGE]}
            )
        return shortcuts

    # ------------------------------------------------------------------ transform
    def _transform_sessions(self, sessions):
        if self._use_polars():
            return self._transform_batches(sessions)
        return self._transform_lines(sessions)

    def _template_of(self):
        """``masked message -> template string``: fitted lookup, then a search per new message."""
        known_get = self._known.get
        new = {}  # masked messages first met in this call
        matchers = None

        def template_of(masked):
            nonlocal matchers
            template = known_get(masked)
            if template is None:
                template = new.get(masked)
                if template is None:  # search the templates once per new message
                    if matchers is None:
                        matchers = _template_matchers(self._template_tokens)
                    index = _search(masked, matchers)
                    template = new[masked] = (
                        UNKNOWN_TEMPLATE if index < 0 else self.templates_[index]
                    )
            return template

        return template_of

    def _transform_batches(self, sessions):
        """Templates of every line, preprocessed in batches; one lookup per unique message."""
        masker = self._masker()
        template_of = self._template_of()
        flat = []
        lines = itertools.chain.from_iterable(sessions)
        # a fitted message has its template's number of tokens (Drain's first level)
        lengths = set(map(len, self._template_tokens))
        while batch := list(itertools.islice(lines, _BATCH_LINES)):
            messages, codes = masker.unique(batch, lengths)
            table = [template_of(masked) for masked in messages]
            table.append(UNKNOWN_TEMPLATE)  # code len(messages): no template's token count
            flat.extend(map(table.__getitem__, codes))
        return _regroup(flat, sessions)

    def _transform_lines(self, sessions):
        """Templates of every line, preprocessed line by line (``engine="python"``)."""
        contents, subs = self._stages()
        stages = list(zip(subs, self._shortcuts, strict=True))
        template_of = self._template_of()
        result = []
        for session in sessions:
            texts = contents(session)
            templates = [None] * len(texts)
            todo = range(len(texts))
            for sub, table in stages:
                if table:
                    table_get = table.get
                    rest = []
                    for i in todo:
                        template = table_get(texts[i])
                        if template is None:
                            rest.append(i)
                        else:
                            templates[i] = template
                    todo = rest
                for i in todo:
                    texts[i] = sub(WILDCARD, texts[i])
            for i in todo:
                templates[i] = template_of(texts[i].strip())
            result.append(templates)
        return result

    def transform(self, X):
        """Map every line to its template string.

        Parameters
        ----------
        X : sequence of sequences of str or bytes
            Sessions of raw log lines.

        Returns
        -------
        sessions : list of list of str
            One session of templates per input session, one template per line;
            lines that match no mined template become :data:`UNKNOWN_TEMPLATE`.
        """
        check_is_fitted(self, "templates_")
        sessions = check_sessions(
            X, allow_numeric=False, max_line_length=self.max_line_length, estimator=self,
            copy=False,  # never modified here
        )
        from joblib import Parallel, delayed, effective_n_jobs

        # -1: every worker of the active joblib backend (a Dask cluster's threads, too)
        n_jobs = 1 if self.n_jobs is None else effective_n_jobs(self.n_jobs)
        if n_jobs <= 1 or len(sessions) < 2:
            return self._transform_sessions(sessions)

        n_chunks = min(n_jobs, len(sessions))
        size = math.ceil(len(sessions) / n_chunks)
        chunks = [sessions[i : i + size] for i in range(0, len(sessions), size)]
        parts = Parallel(n_jobs=n_jobs)(
            delayed(self._transform_sessions)(chunk) for chunk in chunks
        )
        return [session for part in parts for session in part]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Raw text lines only: a 2-D numeric array is rejected (GUIDE 5), so
        # scikit-learn's generated-array checks cannot apply.
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.target_tags.required = False
        return tags
