"""Stream log files line by line, whatever their compression, in bounded memory."""

from __future__ import annotations

import bz2
import gzip
import io

#: The leading bytes of each compressed format :func:`open_log` reads.
_MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\x28\xb5\x2f\xfd": "zstd"}


def compression(path):
    """The compression of a file from its leading (magic) bytes, never its name.

    Returns ``"gzip"``, ``"bz2"``, ``"zstd"`` or ``None`` (not compressed).

    Examples
    --------
    >>> import gzip, os, tempfile
    >>> from sklog.preprocessing import compression
    >>> path = os.path.join(tempfile.mkdtemp(), "no_extension")
    >>> _ = open(path, "wb").write(gzip.compress(b"a line\\n"))
    >>> compression(path)
    'gzip'
    """
    with open(path, "rb") as fh:
        head = fh.read(4)
    return next((name for magic, name in _MAGIC.items() if head.startswith(magic)), None)


def open_log(path):
    """Open a plain, gzip, bz2 or zstd log file as a binary stream of its text.

    The compression is told by the file's magic bytes, so a compressed file
    without its extension (or a plain file named ``.gz``) is read right.
    """
    kind = compression(path)
    if kind == "gzip":
        return gzip.open(path, "rb")
    if kind == "bz2":
        return bz2.open(path, "rb")
    if kind == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True)
    return open(path, "rb")


def looks_binary(path, block_size=8192):
    """Whether a (decompressed) log file is binary data rather than text.

    Its first ``block_size`` bytes are binary when they hold a NUL byte, or
    when more than 30% of them are control bytes other than tab, newline,
    carriage return, form feed and escape (UTF-8 text of any language passes).

    Examples
    --------
    >>> import os, tempfile
    >>> from sklog.preprocessing import looks_binary
    >>> folder = tempfile.mkdtemp()
    >>> text, data = os.path.join(folder, "a.log"), os.path.join(folder, "a.bin")
    >>> _ = open(text, "wb").write("ok \u00e9t\u00e9\\n".encode())
    >>> _ = open(data, "wb").write(bytes(range(256)))
    >>> looks_binary(text), looks_binary(data)
    (False, True)
    """
    with open_log(path) as raw:
        block = raw.read(block_size)
    if b"\0" in block:
        return True
    control = sum(block.count(bytes([c])) for c in _CONTROL_BYTES)
    return control > 0.3 * len(block)


_CONTROL_BYTES = bytes(c for c in range(32) if c not in b"\t\n\r\f\x1b") + b"\x7f"


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
