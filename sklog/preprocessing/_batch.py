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
    import polars as pl

    try:
        if re._parser.parse(pattern).getwidth()[0] == 0:  # can match the empty string
            return False
    except (re.error, TypeError):
        return False
    if re.search(r"(?<!\\)\{,", pattern):  # Python reads {,n} as {0,n}
        return False
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
    lengths = [n for n in lengths if n > 0]
    if not lengths:
        return None
    pattern = r"\s*$"
    for i in range(len(lengths) - 1, -1, -1):
        gap = lengths[i] - (lengths[i - 1] if i else 1)
        step = rf"(?:\s+\S+){{{gap}}}" if gap else ""
        pattern = step + (pattern if i == len(lengths) - 1 else rf"(?:\s*$|{pattern})")
    pattern = r"^\s*\S+" + pattern
    return pattern if rust_compatible(pattern) else None


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
    stack traces mostly skip masking.
    """

    def __init__(self, python_path, contents, prefixes, masking, wildcard):
        self.python_path = python_path
        self.contents = contents
        self.prefixes = prefixes
        self._strict_may_be_empty = (
            prefixes is not None and re._parser.parse(prefixes[0]).getwidth()[0] == 0
        )
        self.wildcard = wildcard
        # the masks from `self.skip_at` on keep token counts: long lines are checked there
        self.skip_at = len(masking)
        while self.skip_at and keeps_token_count(masking[self.skip_at - 1]):
            self.skip_at -= 1
        # consecutive masking regexes that run in Rust form one stage, the others one each
        self.stages = []
        for i, pattern in enumerate(masking):
            rust = rust_compatible(pattern)
            if rust and self.stages and self.stages[-1][0] and i != self.skip_at:
                self.stages[-1][1].append(pattern)
            else:
                self.stages.append((rust, [pattern]))

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
        skip = counts is not None and line_series.str.len_bytes().max() > _LONG_LINE
        done_masks = 0
        for rust, patterns in self.stages:
            if skip and done_masks == self.skip_at:
                frame = self._skip_long(frame, counts)
            done_masks += len(patterns)
            if rust:
                masked = content
                for pattern in patterns:
                    masked = masked.str.replace_all(pattern, self.wildcard)
                frame = frame.with_columns(masked)
            else:
                done = frame.collect()
                sub = re.compile(patterns[0]).sub
                wildcard = self.wildcard
                frame = done.with_columns(pl.Series(
                    "content", [sub(wildcard, text) for text in done["content"]],
                    dtype=pl.String,
                )).lazy()
        if skip and done_masks == self.skip_at:  # every mask may change token counts
            frame = self._skip_long(frame, counts)
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
    def _skip_long(frame, counts):
        """Flag (``skip``) and empty the long contents that ``counts`` (a regex) misses."""
        import polars as pl

        content = pl.col("content")
        return frame.with_columns(
            ((content.str.len_bytes() > _LONG_LINE) & ~content.str.contains(counts)).alias("skip")
        ).with_columns(pl.when("skip").then(pl.lit("")).otherwise(content).alias("content"))

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
