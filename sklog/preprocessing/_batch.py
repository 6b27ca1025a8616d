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
- Long lines that no template can match skip masking, and masks share passes,
  where facts about the masks (:mod:`._masks`) prove the result the same.
"""

from __future__ import annotations

import functools
import re

from ._masks import _one_way_tokens, fusable, keeps_token_count

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


#: Lines longer than this (bytes) are checked for a token count no template has.
_LONG_LINE = 1024

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
        done = 0  # masks in the passes so far
        for rust, patterns in runs:
            if done == skip_at:
                self.check_at = len(self.passes)
            done += len(patterns)
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
        if (self.check_at and self.passes[self.check_at - 1][0] and wildcard
                and not any(ch.isspace() for ch in wildcard)):
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
