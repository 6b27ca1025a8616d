"""Stream log files line by line, whatever their compression, in bounded memory."""

from __future__ import annotations

import bz2
import gzip
import io
import os


def open_log(path):
    """Open a plain, ``.gz``, ``.bz2`` or ``.zst`` log file as a binary stream."""
    path = os.fspath(path)
    if path.endswith(".gz"):
        return gzip.open(path, "rb")
    if path.endswith(".bz2"):
        return bz2.open(path, "rb")
    if path.endswith((".zst", ".zstd")):
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True)
    return open(path, "rb")


def iter_lines(path, *, encoding="utf-8"):
    """Yield the lines of a log file as ``str`` without their line endings.

    Bytes that are not valid UTF-8 are decoded with replacement characters, so
    no line is lost. Only one buffered chunk is held in memory at a time.

    Examples
    --------
    >>> import tempfile, os
    >>> from sklog.preprocessing import iter_lines
    >>> path = os.path.join(tempfile.mkdtemp(), "a.log")
    >>> _ = open(path, "wb").write(b"first\\nsecond \\xff\\n")
    >>> list(iter_lines(path))
    ['first', 'second \ufffd']
    """
    with open_log(path) as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline=None)
        for line in text:
            yield line.rstrip("\r\n")


def read_lines(path, *, encoding="utf-8"):
    """All lines of a log file as a list (see :func:`iter_lines` to stream)."""
    return list(iter_lines(path, encoding=encoding))
