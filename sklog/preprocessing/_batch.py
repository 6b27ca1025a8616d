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
    """

    def __init__(self, python_path, contents, prefixes, masking, wildcard):
        self.python_path = python_path
        self.contents = contents
        self.prefixes = prefixes
        self._strict_may_be_empty = (
            prefixes is not None and re._parser.parse(prefixes[0]).getwidth()[0] == 0
        )
        self.wildcard = wildcard
        # consecutive masking regexes that run in Rust form one stage, the others one each
        self.stages = []
        for pattern in masking:
            rust = rust_compatible(pattern)
            if rust and self.stages and self.stages[-1][0]:
                self.stages[-1][1].append(pattern)
            else:
                self.stages.append((rust, [pattern]))

    def __call__(self, lines):
        import polars as pl

        if not lines:
            return []
        line = pl.Series("line", lines, dtype=pl.String)
        odd = (line.str.len_bytes() != line.str.len_chars()) | line.str.contains(_ODD_ASCII)
        content = self._contents(lines, line)
        for rust, patterns in self.stages:
            if rust:
                for pattern in patterns:
                    content = content.str.replace_all(pattern, self.wildcard)
            else:
                sub = re.compile(patterns[0]).sub
                wildcard = self.wildcard
                content = pl.Series("line", [sub(wildcard, text) for text in content],
                                    dtype=pl.String)
        masked = content.str.strip_chars().to_list()
        if odd.any():
            where = odd.arg_true().to_list()
            for i, message in zip(where, self.python_path([lines[i] for i in where]),
                                  strict=True):
                masked[i] = message
        return masked

    def _contents(self, lines, line):
        """Each line's ``<Content>``, or the line itself where its header does not fit."""
        import polars as pl

        if self.contents is None:
            return line
        if self.prefixes is None:
            return pl.Series("line", self.contents(lines), dtype=pl.String)
        stripped = line.str.strip_chars()
        strict, loose = self.prefixes
        content = stripped.str.replace(strict, "")
        if self._strict_may_be_empty:
            fits = stripped.str.contains(strict)
        else:  # the prefix matched where the text got shorter
            fits = content.str.len_bytes() != stripped.str.len_bytes()
        unfit = (~fits).arg_true()
        if len(unfit) > len(line) // 8:  # a line that does not fit stays whole
            content = content.zip_with(fits, line)
        elif len(unfit):
            content = content.scatter(unfit, line.gather(unfit))
        if loose is None:  # the strict prefix is exact: a line it misses does not fit
            return content
        exact = unfit.filter(stripped.gather(unfit).str.contains(loose))
        if len(exact):  # may fit with fields the strict prefix does not allow
            values = self.contents([lines[i] for i in exact.to_list()])
            content = content.scatter(exact, pl.Series(values, dtype=pl.String))
        return content
