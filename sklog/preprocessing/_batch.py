"""Header parsing and masking of a whole batch of lines at once, in polars (Rust regex).

:class:`DrainTemplater` turns every line into a *masked message*: the
``<Content>`` of its header (the whole line where the header does not fit),
each masking regex replaced by ``<*>`` in order, stripped. Done line by line
with Python's ``re`` this is most of the templater's time.
:class:`BatchMasker` does the same to a list of lines in a few vectorised
polars calls, with the same result on every line:

- Rust's regex engine agrees with Python's ``re`` (leftmost-first, same
  greedy and lazy preferences) on the patterns it accepts, read on ASCII
  text. Lines holding non-ASCII characters, a line break or ``\\x1c``-``\\x1f``
  go through the Python path, since ``\\s``, ``\\w``, ``\\d``, ``.``, ``$``
  and ``str.strip`` differ there.
- A masking regex Rust does not accept (lookarounds, backreferences, atomic
  groups), or one that can match the empty string (the engines differ on where
  empty matches may follow a match), runs with ``re`` over the batch.
- Header fields end at their first stop (see ``log_format_regex``), which needs
  lookarounds. The header is found with a *strict* prefix regex whose fields
  hold no character a stop can begin with: where it matches, the exact pattern
  matches with the same ``<Content>``. A *loose* one with free fields proves
  that the other lines do not fit, except those it matches: only these few go
  through the exact pattern in Python. Most formats (12 of the 16 loghub
  presets) need no loose pattern: each field has a lookaround-free form that
  matches exactly the atomic field, so the strict prefix is exact.
"""

from __future__ import annotations

import functools
import re

#: ASCII characters on which Python's ``re``/``str.strip`` and Rust's regex differ:
#: ``\n`` (``.``, ``$``) and ``\x1c``-``\x1f`` (whitespace to Python only).
_ODD_ASCII = r"[\n\x1c-\x1f]"


@functools.lru_cache(maxsize=256)
def rust_compatible(pattern):
    """Whether ``pattern`` masks identically with polars' Rust engine on ASCII lines."""
    try:
        if re._parser.parse(pattern).getwidth()[0] == 0:  # can match the empty string
            return False
    except (re.error, TypeError):
        return False
    if re.search(r"(?<!\\)\{,", pattern):  # Python reads {,n} as {0,n}
        return False
    return _rust_accepts(pattern)


@functools.lru_cache(maxsize=256)
def _rust_accepts(pattern):
    """Whether polars' Rust engine compiles ``pattern`` (syntax, size and nesting limits)."""
    import polars as pl

    try:
        pl.Series([""], dtype=pl.String).str.contains(pattern)
    except Exception:  # noqa: BLE001 - polars raises its own ComputeError on unsupported syntax
        return False
    return True


#: Lines longer than this (bytes) are checked for more tokens than any template has.
_LONG_LINE = 1024

_WHITESPACE = [chr(c) for c in range(0x110000) if chr(c).isspace()]


def _consumes_no_whitespace(items):
    """Whether a parsed regex (``re._parser``) can match no whitespace character.

    Conservative: ``.``, a negated literal or class, ``\\s``, ``\\W``, ``\\D``
    and anything unknown count as able to.
    """
    from re import _constants as c

    safe_categories = {c.CATEGORY_DIGIT, c.CATEGORY_WORD, c.CATEGORY_NOT_SPACE}
    for op, value in items:
        if op is c.LITERAL:
            if chr(value).isspace():
                return False
        elif op is c.IN:
            for kind, item in value:
                if kind is c.LITERAL and not chr(item).isspace():
                    continue
                if kind is c.RANGE and not any(item[0] <= ord(w) <= item[1]
                                               for w in _WHITESPACE):
                    continue
                if kind is c.CATEGORY and item in safe_categories:
                    continue
                return False
        elif op is c.BRANCH:
            if not all(_consumes_no_whitespace(branch) for branch in value[1]):
                return False
        elif op is c.SUBPATTERN:
            if not _consumes_no_whitespace(value[3]):
                return False
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            if not _consumes_no_whitespace(value[2]):
                return False
        elif op is c.ATOMIC_GROUP:
            if not _consumes_no_whitespace(value):
                return False
        elif op in (c.AT, c.ASSERT, c.ASSERT_NOT, c.GROUPREF):
            continue  # zero-width, or a repeat of a group already checked
        else:
            return False
    return True


def keeps_token_count(pattern):
    """Whether replacing ``pattern``'s matches by a non-blank word keeps every text's token count.

    True when no match can be empty (an empty match may put a new token
    between two spaces) or hold whitespace (which would join tokens).
    """
    try:
        parsed = re._parser.parse(pattern)
    except (re.error, TypeError):
        return False
    return parsed.getwidth()[0] > 0 and _consumes_no_whitespace(parsed)


@functools.lru_cache(maxsize=64)
def _token_count_in(lengths):
    """A Rust regex matching text whose number of tokens is one of ``lengths`` (a sorted
    tuple), ``None`` where the engine does not accept it (its size or nesting limits).

    It scans no further than token ``max(lengths) + 1``: nested groups, one per
    length, ``^\\s*\\S+(?:\\s+\\S+){a-1}(?:\\s*$|(?:\\s+\\S+){b-a}(?:\\s*$|...))``.
    """
    empty = 0 in lengths
    lengths = [n for n in lengths if n > 0]
    if not lengths:
        return r"^\s*$" if empty else None
    pattern = r"\s*$"
    for i in range(len(lengths) - 1, -1, -1):
        gap = lengths[i] - (lengths[i - 1] if i else 1)
        step = rf"(?:\s+\S+){{{gap}}}" if gap else ""
        pattern = step + (pattern if i == len(lengths) - 1 else rf"(?:\s*$|{pattern})")
    pattern = (r"^\s*$|" if empty else "") + r"^\s*\S+" + pattern
    return pattern if _rust_accepts(pattern) else None


#: The characters of a line on the Rust path: ASCII but the odd ones (``_ODD_ASCII``).
_RUST_ASCII = frozenset(c for c in range(128) if c != 10 and not 0x1C <= c <= 0x1F)


def _atom_chars(op, value):
    """The characters of ``_RUST_ASCII`` that one parsed single-character atom
    accepts, or ``None`` when it is not one."""
    from re import _constants as c

    def category(name):
        chars = {c.CATEGORY_DIGIT: set(range(48, 58)),
                 c.CATEGORY_SPACE: {9, 10, 11, 12, 13, 32},
                 c.CATEGORY_WORD: {ch for ch in _RUST_ASCII if chr(ch).isalnum() or ch == 95}}
        for positive, negative in ((c.CATEGORY_DIGIT, c.CATEGORY_NOT_DIGIT),
                                   (c.CATEGORY_SPACE, c.CATEGORY_NOT_SPACE),
                                   (c.CATEGORY_WORD, c.CATEGORY_NOT_WORD)):
            chars[negative] = set(_RUST_ASCII) - chars[positive]
        return chars.get(name)

    if op is c.LITERAL:
        chars = {value}
    elif op is c.NOT_LITERAL:
        chars = set(_RUST_ASCII) - {value}
    elif op is c.ANY:
        chars = set(_RUST_ASCII)
    elif op is c.IN:
        chars, negate = set(), False
        for kind, item in value:
            if kind is c.NEGATE:
                negate = True
            elif kind is c.LITERAL:
                chars.add(item)
            elif kind is c.RANGE:
                chars.update(range(item[0], item[1] + 1))
            elif kind is c.CATEGORY and category(item) is not None:
                chars |= category(item)
            else:
                return None
        if negate:
            chars = set(_RUST_ASCII) - chars
    else:
        return None
    return frozenset(chars & _RUST_ASCII)


def _children(op, value):
    """The item lists a parsed group, repeat or alternation holds, else ``None``."""
    from re import _constants as c

    if op is c.SUBPATTERN:
        return [value[3]]
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
        return [value[2]]
    if op is c.BRANCH:
        return value[1]
    if op is c.ATOMIC_GROUP:
        return [value]
    return None


def _alphabet(items):
    """Every character a match of the parsed regex ``items`` can hold, or ``None``."""
    from re import _constants as c

    out = set()
    for op, value in items:
        chars = _atom_chars(op, value)
        if chars is not None:
            out |= chars
            continue
        if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            continue  # zero-width
        parts = _children(op, value)
        if parts is None:
            return None
        for part in parts:
            chars = _alphabet(part)
            if chars is None:
                return None
            out |= chars
    return out


def _parsed(pattern):
    """``re``'s parse of ``pattern`` without flags other than the default, else ``None``."""
    try:
        parsed = re._parser.parse(pattern)
    except (re.error, TypeError):
        return None
    return parsed if parsed.state.flags == re.UNICODE else None


def fusable(before, pattern, wildcard):
    """Whether ``pattern``, applied after ``before`` (a list of masks), may join them
    in one alternation pass: the same text on every line of the Rust path.

    Sufficient: ``pattern`` is a sequence of single-character atoms and their
    repeats; those whose characters are disjoint from ``C`` (every character of
    a ``before`` match and of ``wildcard``) begin and end it and separate any two
    of the others, which are unbounded repeats (at most one character required)
    of an atom that accepts all of ``C``. Runs of ``C`` characters, however
    long, are then alike to ``pattern`` and the matches of both keep their
    places, whether or not ``before`` replaced them first (OpenStack's
    ``((\\d+\\.){3}\\d+,?)+`` then ``/.+?\\s``).
    """
    from re import _constants as c

    if not wildcard:
        return False
    taken = {ord(ch) for ch in wildcard}
    for earlier in before:
        parsed = _parsed(earlier)
        chars = None if parsed is None else _alphabet(parsed)
        if chars is None:
            return False
        taken |= chars
    parsed = _parsed(pattern)
    if parsed is None or not len(parsed):
        return False
    kinds = []  # per item: "D" (no C character, at least one), "d" (none, maybe empty), "C"
    for op, value in parsed:
        if op in (c.MAX_REPEAT, c.MIN_REPEAT) and len(value[2]) == 1:
            low, high, ((atom_op, atom_value),) = value
        else:
            low, high, atom_op, atom_value = 1, 1, op, value
        chars = _atom_chars(atom_op, atom_value)
        if chars is None:
            return False
        if not chars & taken:
            kinds.append("D" if low >= 1 else "d")
        elif chars >= taken and high is c.MAXREPEAT and low <= 1:
            kinds.append("C")
        else:
            return False
    if kinds[0] != "D" or kinds[-1] != "D":
        return False
    runs = "".join(kinds).replace("d", "").split("D")  # what lies between required D items
    return all(run in ("", "C") for run in runs)


def _char_class(chars):
    """A regex class of the ``chars`` (codes), as hex ranges."""
    codes, parts, i = sorted(chars), [], 0
    while i < len(codes):
        j = i
        while j + 1 < len(codes) and codes[j + 1] == codes[j] + 1:
            j += 1
        parts.append(f"\\x{codes[i]:02X}" + (f"-\\x{codes[j]:02X}" if j > i else ""))
        i = j + 1
    return "[" + "".join(parts) + "]"


def _one_way(pattern):
    """``(regex, first)``: a regex that matches what ``pattern`` matches on the Rust path,
    each match the only one from where it begins, and the characters it begins
    with; ``None`` where not shown.

    Shown for a sequence of single-character atoms and their repeats, each repeat
    followed by a required atom it cannot match, and last a single character or a
    fixed count. A lazy ``A+?B`` or ``A*?B`` that ends the pattern stops at the
    first ``B`` (``/.+?\\s`` is ``/.\\S*\\s``). With one way to match, no regex
    engine can match it otherwise, even one that only asks whether some match exists.
    """
    from re import _constants as c

    parsed = _parsed(pattern)
    if parsed is None or not len(parsed):
        return None
    items = []  # (chars, low, high)
    for op, value in parsed:
        if op in (c.MAX_REPEAT, c.MIN_REPEAT) and len(value[2]) == 1:
            low, high, ((atom_op, atom_value),) = value
            lazy = op is c.MIN_REPEAT and low != high
        else:
            low, high, atom_op, atom_value, lazy = 1, 1, op, value, False
        chars = _atom_chars(atom_op, atom_value)
        if chars is None or not chars:
            return None
        items.append((chars, low, high, lazy))
    if (len(items) >= 2 and items[-2][3] and items[-2][2] is c.MAXREPEAT
            and items[-1][1:3] == (1, 1)):
        (chars, low, _, _), last = items[-2], items[-1]
        rest = chars - last[0]
        items[-2:] = [(chars, low, low, False), (rest, 0, c.MAXREPEAT, False), last]
    if any(lazy for *_, lazy in items) or not items[-1][1] == items[-1][2]:
        return None
    for (chars, low, high, _), (following, need, _, _) in zip(items, items[1:], strict=False):
        if low != high and (need < 1 or chars & following):
            return None
    text = ""
    for chars, low, high, _ in items:
        if high == 0 or not chars and low == 0:
            continue
        quantifier = ("" if low == high == 1 else f"{{{low}}}" if low == high
                      else "*" if (low, high) == (0, c.MAXREPEAT)
                      else "+" if (low, high) == (1, c.MAXREPEAT)
                      else f"{{{low},}}" if high is c.MAXREPEAT else f"{{{low},{high}}}")
        text += _char_class(chars) + quantifier
    first = set()
    for chars, low, _, _ in items:
        first |= chars
        if low:
            break
    return text, frozenset(first)


_SPACE_CODES = frozenset({9, 10, 11, 12, 13, 32})


def _one_way_tokens(joining):
    """A regex whose one way to match is a token of the text once the masks ``joining``
    (a pass's masks that may join tokens) replaced their matches, or ``None``.

    Each mask must match one way (:func:`_one_way`) and begin with characters no
    other begins with, nor whitespace: a token is then a run of those masks'
    matches and of characters none of them begins with. Where a mask cannot
    match at its first character the regex fails: it never counts too many.
    """
    forms = [_one_way(pattern) for pattern in joining]
    if not forms or None in forms:
        return None
    firsts = [first for _, first in forms]
    begin = frozenset().union(*firsts)
    if begin & _SPACE_CODES or sum(map(len, firsts)) != len(begin):
        return None
    plain = _char_class(_RUST_ASCII - begin - _SPACE_CODES)
    return "(?:" + "|".join(regex for regex, _ in forms) + f"|{plain})+"


@functools.lru_cache(maxsize=64)
def _more_tokens_than(tokens, n):
    """A Rust regex matching text of more than ``n`` of these ``tokens``, scanning no
    further than the first ``n + 1``; ``None`` where the engine does not accept it."""
    pattern = rf"^\s*(?:{tokens}\s+){{{n}}}\S"
    return pattern if _rust_accepts(pattern) else None


class BatchMasker:
    """Lines -> masked messages, vectorised; the same result as ``python_path`` line by line.

    Parameters
    ----------
    python_path : callable
        ``list of lines -> list of masked messages``, the exact per-line path.
    contents : callable or None
        ``list of lines -> list of <Content>`` (the line itself where the header
        does not fit), the exact per-line header; ``None``: no header.
    prefixes : tuple of str or None
        ``(strict, loose)`` header prefix regexes (``_header_prefixes``); ``None``
        when the format has none: headers are then found with ``contents``.
    masking : list of str
        The masking regexes, in order.
    wildcard : str
        What every masked span is replaced with.

    Notes
    -----
    :meth:`unique` with ``lengths`` leaves the remaining masks undone on a
    long line (over ``_LONG_LINE`` bytes) whose number of tokens is none of
    ``lengths`` once every mask that may change token counts has run (the
    masks after it keep them: :func:`keeps_token_count`): masking cannot
    bring it to a template's count, and templates only match messages of
    their own count (Drain's first level). Random or binary lines and long
    stack traces mostly skip masking. Where the last masks that may change
    token counts each match one way (:func:`_one_way`), a scan of the first
    tokens proves most long lines will have too many before those masks run.

    Every regex scan of a 10 kB line costs about 20 microseconds in Rust, so
    the fewer passes the better: consecutive Rust masks share one pass where
    that gives the same text (:func:`fusable`).
    """

    def __init__(self, python_path, contents, prefixes, masking, wildcard):
        self.python_path = python_path
        self.contents = contents
        self.prefixes = prefixes
        self._strict_may_be_empty = (
            prefixes is not None and re._parser.parse(prefixes[0]).getwidth()[0] == 0
        )
        self.wildcard = wildcard
        # the masks from `skip_at` on keep token counts: long lines are checked there
        skip_at = len(masking)
        while skip_at and keeps_token_count(masking[skip_at - 1]):
            skip_at -= 1
        # runs of masks that run in Rust (split where long lines are checked), Python's one each
        runs = []
        for i, pattern in enumerate(masking):
            rust = rust_compatible(pattern)
            if rust and runs and runs[-1][0] and i != skip_at:
                runs[-1][1].append(pattern)
            else:
                runs.append((rust, [pattern]))
        # one pass per mask, but masks that may join those before them in a Rust run (`fusable`)
        self.passes = []  # (rust, regex)
        self.check_at = None  # the pass before which long lines are checked
        for rust, patterns in runs:
            if sum(len(group) for _, group in self.passes) == skip_at:
                self.check_at = len(self.passes)
            groups = [[patterns[0]]]
            for pattern in patterns[1:]:
                if rust and fusable(groups[-1], pattern, wildcard):
                    groups[-1].append(pattern)
                else:
                    groups.append([pattern])
            self.passes += [(rust, group) for group in groups]
        if self.check_at is None:  # every mask may change token counts
            self.check_at = len(self.passes)
        groups = [group for _, group in self.passes]
        self.passes = [(rust, "|".join(f"(?:{p})" for p in group) if len(group) > 1 else group[0])
                       for rust, group in self.passes]
        # Before the last pass that may join tokens, where its masks that do each match
        # one way (`_one_way`), one scan of the first tokens proves most long lines will
        # have too many: the pass then runs only on the others.
        self.one_way_tokens = None
        if self.check_at and self.passes[self.check_at - 1][0] and wildcard.strip() == wildcard:
            self.one_way_tokens = _one_way_tokens(
                [p for p in groups[self.check_at - 1] if not keeps_token_count(p)])

    def masked(self, lines, lengths=None):
        """``(masked, skipped)``: each line's masked message as a polars Series, and
        with ``lengths`` a boolean Series of the lines left unmasked because
        their message's number of tokens would be none of ``lengths`` (else
        ``None``). ``lines`` is not empty.
        """
        import polars as pl

        # one lazy query per run of Rust stages, evaluated on polars' thread pool; each
        # intermediate is its own column (polars does not share a repeated sub-expression)
        line_series = pl.Series("line", lines, dtype=pl.String)
        frame = self._contents(lines, line_series)
        content = pl.col("content")
        counts = None if lengths is None else _token_count_in(tuple(sorted(set(lengths))))
        more = (None if self.one_way_tokens is None or not lengths
                else _more_tokens_than(self.one_way_tokens, max(lengths)))
        skip = ((counts is not None or more is not None)
                and line_series.str.len_bytes().max() > _LONG_LINE)
        for index, (rust, pattern) in enumerate(self.passes):
            if skip and more is not None and index == self.check_at - 1:
                frame = self._skip_long(frame, lambda long: long.str.contains(more))
            if skip and counts is not None and index == self.check_at:
                frame = self._skip_long(frame, lambda long: ~long.str.contains(counts))
            if rust:
                frame = frame.with_columns(content.str.replace_all(pattern, self.wildcard))
            else:
                done = frame.collect()
                sub = re.compile(pattern).sub
                wildcard = self.wildcard
                frame = done.with_columns(pl.Series(
                    "content", [sub(wildcard, text) for text in done["content"]],
                    dtype=pl.String,
                )).lazy()
        if skip and counts is not None and self.check_at == len(self.passes):
            frame = self._skip_long(frame, lambda long: ~long.str.contains(counts))
        if skip and "skip" not in frame.collect_schema():
            frame = frame.with_columns(pl.lit(False).alias("skip"))
        line = pl.col("line")
        odd = (line.str.len_bytes() != line.str.len_chars()) | line.str.contains(_ODD_ASCII)
        done = frame.select(content.str.strip_chars(), odd.alias("odd"),
                            *(["skip"] if skip else [])).collect()
        masked = done["content"]
        odd = done["odd"]
        skipped = done["skip"] & ~odd if skip else None
        if odd.any():  # every odd line is masked in Python
            where = odd.arg_true()
            messages = self.python_path([lines[i] for i in where.to_list()])
            masked = masked.scatter(where, pl.Series(messages, dtype=pl.String))
        return masked, skipped

    @staticmethod
    def _skip_long(frame, test):
        """Flag (``skip``) and empty the long contents that ``test`` (long contents ->
        booleans) says will not have a template's number of tokens. Only long
        contents are scanned; the emptied ones are short, so a later test skips them.
        """
        import polars as pl

        done = frame.collect()
        content = done["content"]
        where = (content.str.len_bytes() > _LONG_LINE).arg_true()
        flags = pl.Series("skip", [False] * len(content), dtype=pl.Boolean).scatter(
            where, test(content.gather(where)))
        if "skip" in done.columns:
            flags = flags | done["skip"]
        return done.with_columns(
            flags, pl.when(flags).then(pl.lit("")).otherwise(content).alias("content")
        ).lazy()

    def __call__(self, lines):
        """Each line's masked message."""
        return self.masked(lines)[0].to_list() if lines else []

    def unique(self, lines, lengths=None):
        """``(messages, codes)``: the distinct masked messages, and per line the index of its own.

        For lookups once per distinct message: cheaper than :meth:`__call__`
        when messages repeat, since no per-line string reaches Python. With
        ``lengths`` (the numbers of tokens of the templates), a line whose
        message would have another number may be left unmasked: its code is
        ``len(messages)``.
        """
        import polars as pl

        if not lines:
            return [], []
        masked, skipped = self.masked(lines, lengths)
        messages = masked.unique()
        codes = masked.cast(pl.Enum(messages)).to_physical()
        if skipped is not None:
            codes = codes.cast(pl.Int64).zip_with(~skipped, pl.Series([len(messages)]))
        return messages.to_list(), codes.to_list()

    def _contents(self, lines, line):
        """A lazy frame of ``line`` and ``content``: each line's ``<Content>``, or the
        line itself where its header does not fit.
        """
        import polars as pl

        if self.contents is None:
            return pl.LazyFrame([line, line.alias("content")])
        if self.prefixes is None:
            return pl.LazyFrame(
                [line, pl.Series("content", self.contents(lines), dtype=pl.String)]
            )
        strict, loose = self.prefixes
        stripped, cut = pl.col("stripped"), pl.col("cut")
        frame = (pl.LazyFrame([line])
                 .with_columns(pl.col("line").str.strip_chars().alias("stripped"))
                 .with_columns(stripped.str.replace(strict, "").alias("cut")))
        if self._strict_may_be_empty:
            fits = stripped.str.contains(strict)
        else:  # the prefix matched where the text got shorter
            fits = cut.str.len_bytes() != stripped.str.len_bytes()
        frame = frame.select(
            "line", "stripped", pl.when(fits).then(cut).otherwise("line").alias("content"),
            fits.alias("fits"),
        )
        if loose is None:  # the strict prefix is exact: a line it misses does not fit
            return frame.select("line", "content")
        done = frame.collect()
        unfit = (~done["fits"]).arg_true()
        exact = unfit.filter(done["stripped"].gather(unfit).str.contains(loose))
        if len(exact):  # may fit with fields the strict prefix does not allow
            values = self.contents([lines[i] for i in exact.to_list()])
            done = done.with_columns(
                done["content"].scatter(exact, pl.Series(values, dtype=pl.String))
            )
        return done.select("line", "content").lazy()
