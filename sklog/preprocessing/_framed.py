"""Framed log archives: one independently compressed zstd frame per session, and an index.

An archive is an ordinary ``.zst`` file: ``zstd -d`` (or any zstd streaming
decoder) restores exactly the original log, while :func:`iter_frames` hands a
byte-level model (:class:`ByteWindower` with ``input="compressed"``) each
session's compressed frame without decompressing anything, and
:func:`read_frame_lines` decompresses one session's frame to show its lines.

Layout
------
Everything that is not the log itself sits in zstd *skippable frames*
(magic ``0x184D2A50`` to ``0x184D2A5F``), which every zstd decoder skips::

    [dictionary]       skippable frame 0x184D2A5B (only with a dictionary)
    [log frames]       regular zstd frames: the log, in its original order
    [session frames]   "side" layout only: each session's frame, wrapped in a
                       skippable frame 0x184D2A5C
    [index]            skippable frame 0x184D2A5A, last in the file; its last
                       16 bytes are b"sklogidx", the format version and the
                       length of the index before them

Sessions by key (HDFS blocks) interleave in a log, so frames of whole sessions
concatenated in any order cannot decompress to the log's own line order.
Hence two layouts, recorded in the index:

- ``"inline"`` (fixed windows, no dictionary): the windows' frames *are* the
  log frames, in order. Nothing is stored twice.
- ``"side"`` (sessions by key, or windows with a dictionary): the log is
  written in order as regular frames of about 1 MiB (no dictionary, with
  zstd's content checksum), so plain ``zstd -d`` needs no dictionary; every
  session's frame (with the dictionary) is stored once more beside it, in a
  skippable frame. The archive is then about the size of the log's ``.zst``
  plus the size of its session frames.

A session frame is what :class:`ByteWindower` writes for the session's lines
with the same level and dictionary (each line followed by its newline, no
zstd content checksum); the index keeps a CRC32 of every session frame, which
:func:`iter_frames` and :func:`read_frame_lines` check;
:func:`verify_framed_log` checks a whole archive.
"""

from __future__ import annotations

import json
import os
import struct
import warnings
import zlib
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from ._bytes import (
    DictionaryTrainingWarning,
    _line_bytes,
    compressor,
    train_zstd_dictionary,
    zstd_dictionary_id,
    zstd_frame_dictionary_id,
)
from ._sessions import sessions_from_lines, windows_from_lines

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_INDEX_MAGIC = 0x184D2A5A
_DICTIONARY_MAGIC = 0x184D2A5B
_SESSION_MAGIC = 0x184D2A5C
_TRAILER = struct.Struct("<8sII")  # b"sklogidx", version, length of the index before it
_TRAILER_TAG = b"sklogidx"
_VERSION = 1
#: Raw bytes of the log per regular frame in the "side" layout.
_LOG_FRAME_BYTES = 1 << 20
_ARRAYS = ("offsets", "lengths", "crc32", "content_bytes", "n_lines")
_ARRAY_DTYPE = np.dtype("<u8")


class FramedArchiveError(ValueError):
    """A framed log archive is truncated, corrupted or not one at all."""


class FramedIndex(NamedTuple):
    """What the index of a framed log archive holds (see :func:`read_framed_index`).

    Attributes
    ----------
    session_ids : list of str
        In the order of :func:`iter_frames`.
    offsets, lengths : ndarray of int
        Where each session's frame lies in the file, in bytes.
    crc32 : ndarray of int
        CRC32 of each session frame's compressed bytes.
    content_bytes : ndarray of int
        Size of each session's uncompressed lines.
    line_numbers : list of ndarray of int
        1-based positions of each session's lines in the log.
    dictionary : bytes or None
        The zstd dictionary of the session frames.
    dictionary_id : int
        Its id (``0``: no dictionary).
    level : int
        zstd compression level.
    layout : str
        ``"inline"`` or ``"side"`` (see the module notes).
    key : str or None
        The session key's regular expression (``None`` for windows or a callable key).
    window : int or None
        Lines per window (``None`` for sessions by key).
    n_lines : int
        Lines in the log.
    log_bytes : int
        Size of the decompressed log.
    log_crc32 : int
        CRC32 of the decompressed log.
    """

    session_ids: list
    offsets: np.ndarray
    lengths: np.ndarray
    crc32: np.ndarray
    content_bytes: np.ndarray
    line_numbers: list
    dictionary: bytes | None
    dictionary_id: int
    level: int
    layout: str
    key: str | None
    window: int | None
    n_lines: int
    log_bytes: int
    log_crc32: int


def _skippable(magic, payload):
    return struct.pack("<II", magic, len(payload)) + payload


def _raw_lines(lines):
    """Every line as bytes with its terminator, exactly as the log holds it."""
    if isinstance(lines, (str, bytes, os.PathLike)):
        from ._io import open_log

        with open_log(lines) as fh:
            return list(fh)  # binary lines, newline kept (the last one may lack it)
    out = []
    for i, line in enumerate(lines):
        b = _line_bytes(line, "write_framed_log: ", i)
        out.append(b if b.endswith(b"\n") else b + b"\n")
    return out


def write_framed_log(lines, path, *, session_key=None, window=None, codec="zstd",
                     dictionary=None, level=3, dict_size=16384):
    """Write a log as one independently compressed zstd frame per session, with an index.

    The file is an ordinary ``.zst``: ``zstd -d`` restores the log byte for
    byte, in its order. Each session's frame is the one
    :class:`ByteWindower` (``codec="zstd"``, same ``level`` and dictionary)
    writes for the session's lines, so a model reads it from
    :func:`iter_frames` without decompressing. See the module notes for the
    file's layout.

    Parameters
    ----------
    lines : str, path-like or iterable of str or bytes
        A log file (plain, gzip, bz2 or zstd), read as bytes so that the
        archive restores it exactly, or its lines: each written followed by a
        newline unless it already ends with one (``str`` as UTF-8).
    path : str or path-like
        The archive to write (overwritten).
    session_key : str or callable, optional
        Sessions by an id in each line, as in :func:`sessions_from_lines`
        (e.g. :data:`HDFS_BLOCK_KEY`). Lines with no id belong to no session
        (they are in the log frames only); a line with two ids is in both
        sessions' frames.
    window : int, optional
        Sessions of ``window`` consecutive lines (the last may be shorter), as
        :func:`windows_from_lines` cuts them; ids ``"lines FIRST-LAST"``
        (1-based). Give exactly one of ``session_key`` and ``window``.
    codec : {"zstd"}, default="zstd"
        The only codec of an archive.
    dictionary : None, "train" or bytes, default=None
        The session frames' zstd dictionary, stored in the archive:
        ``"train"`` trains one on the sessions (as :class:`ByteWindower`
        does; too few sessions: none, with a :class:`DictionaryTrainingWarning`);
        ``bytes`` uses this one, e.g. a fitted windower's ``dictionary_``, so
        that its model reads the archive's frames.
    level : int, default=3
        zstd compression level.
    dict_size : int, default=16384
        Size of a trained dictionary.

    Returns
    -------
    index : FramedIndex
        What the archive's index holds.

    Notes
    -----
    The log is held in memory while the archive is written. An empty log
    gives an archive of its index alone, which decompresses to nothing and
    has no frames.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklog.preprocessing import iter_frames, read_frame_lines, write_framed_log
    >>> path = os.path.join(tempfile.mkdtemp(), "log.zst")
    >>> lines = ["open blk_1", "open blk_2", "close blk_1", "close blk_2"]
    >>> index = write_framed_log(lines, path, session_key=r"blk_\\d+")
    >>> index.layout, [(sid, len(frame) > 0) for sid, frame in iter_frames(path)]
    ('side', [('blk_1', True), ('blk_2', True)])
    >>> read_frame_lines(path, "blk_2")
    ['open blk_2', 'close blk_2']
    """
    import zstandard

    if codec != "zstd":
        raise ValueError(f"codec must be 'zstd' (an archive is a .zst file), got {codec!r}.")
    if (session_key is None) == (window is None):
        raise ValueError("Give exactly one of session_key and window; got "
                         f"session_key={session_key!r}, window={window!r}.")
    if not isinstance(level, (int, np.integer)) or not -131072 <= level <= 22:
        raise ValueError(f"level must be an integer from -131072 to 22, got {level!r}.")
    if not (dictionary is None or isinstance(dictionary, bytes) or dictionary == "train"):
        raise ValueError(f"dictionary must be None, 'train' or bytes, got {dictionary!r}.")
    raw = _raw_lines(lines)
    text = [b.decode("utf-8", "replace").rstrip("\r\n") for b in raw]
    if window is not None:
        _, indices = windows_from_lines(text, size=window)
        ids = [f"lines {idx[0] + 1}-{idx[-1] + 1}" for idx in indices]
    else:
        _, ids, indices = sessions_from_lines(text, key=session_key)
        ids = [str(sid) for sid in ids]
    del text
    contents = [b"".join(raw[i] if raw[i].endswith(b"\n") else raw[i] + b"\n" for i in idx)
                for idx in indices]
    if isinstance(dictionary, str):  # "train"
        dictionary = train_zstd_dictionary(contents, dict_size, level)
        if dictionary is None and contents:
            warnings.warn(f"write_framed_log: {len(contents)} session(s) are too little to "
                          "train a zstd dictionary; frames are written without one.",
                          DictionaryTrainingWarning, stacklevel=2)
    dictionary_id = zstd_dictionary_id(dictionary)
    compress = compressor("zstd", level, dictionary)
    # inline: the windows' frames are the log (not when its last line has no newline:
    # a session frame ends every line with one)
    exact = not raw or raw[-1].endswith(b"\n")
    layout = "inline" if window is not None and dictionary is None and exact else "side"

    log_crc = 0
    offsets, lengths, crcs = [], [], []
    with open(path, "wb") as fh:
        def write(data):
            start = fh.tell()
            fh.write(data)
            return start

        if dictionary is not None:
            write(_skippable(_DICTIONARY_MAGIC, dictionary))
        if layout == "inline":  # the windows are the log, in order
            for content in contents:
                frame = compress(content)
                offsets.append(write(frame))
                lengths.append(len(frame))
                crcs.append(zlib.crc32(frame))
                log_crc = zlib.crc32(content, log_crc)
            log_bytes = sum(map(len, contents))
        else:
            whole = zstandard.ZstdCompressor(level=level, write_checksum=True)
            chunk, size = [], 0
            log_bytes = 0
            for line in [*raw, None]:
                if line is not None:
                    chunk.append(line)
                    size += len(line)
                if chunk and (line is None or size >= _LOG_FRAME_BYTES):
                    data = b"".join(chunk)
                    write(whole.compress(data))
                    log_crc = zlib.crc32(data, log_crc)
                    log_bytes += len(data)
                    chunk, size = [], 0
            for content in contents:
                frame = compress(content)
                offsets.append(write(_skippable(_SESSION_MAGIC, frame)) + 8)
                lengths.append(len(frame))
                crcs.append(zlib.crc32(frame))
        header = {
            "format": "sklog framed log", "version": _VERSION, "codec": "zstd",
            "level": int(level), "layout": layout, "dictionary_id": dictionary_id,
            "key": session_key if isinstance(session_key, str) else None,
            "window": None if window is None else int(window), "n_lines": len(raw),
            "log_bytes": log_bytes, "log_crc32": log_crc, "session_ids": ids,
        }
        arrays = {
            "offsets": offsets, "lengths": lengths, "crc32": crcs,
            "content_bytes": [len(c) for c in contents],
            "n_lines": [len(idx) for idx in indices],
        }
        fh.write(_index_frame(header, arrays, indices))
    return read_framed_index(path)


def _index_frame(header, arrays, indices):
    import zstandard

    head = json.dumps(header, separators=(",", ":")).encode()
    body = [struct.pack("<I", len(head)), head]
    body += [np.asarray(arrays[name], dtype=_ARRAY_DTYPE).tobytes() for name in _ARRAYS]
    flat = np.concatenate(indices).astype(np.int64) if indices else np.empty(0, np.int64)
    body.append(np.diff(flat, prepend=0).astype("<i8").tobytes())  # deltas: mostly 1s
    packed = zstandard.ZstdCompressor(level=3, write_checksum=True).compress(b"".join(body))
    payload = packed + _TRAILER.pack(_TRAILER_TAG, _VERSION, len(packed))
    return _skippable(_INDEX_MAGIC, payload)


def _read_index(fh, path):
    import zstandard

    size = fh.seek(0, os.SEEK_END)
    bad = f"{os.fspath(path)!r} is truncated or not a framed log archive"
    if size < 8 + _TRAILER.size:
        raise FramedArchiveError(f"{bad}: {size} bytes, too short to end with an index.")
    fh.seek(size - _TRAILER.size)
    tag, version, length = _TRAILER.unpack(fh.read(_TRAILER.size))
    if tag != _TRAILER_TAG:
        raise FramedArchiveError(f"{bad}: its last bytes are not an index (written by "
                                 "sklog.preprocessing.write_framed_log).")
    if version != _VERSION:
        raise FramedArchiveError(f"{os.fspath(path)!r}: index version {version}; this version "
                                 f"of scikit-log reads version {_VERSION}.")
    start = size - _TRAILER.size - length - 8
    if start < 0:
        raise FramedArchiveError(f"{bad}: the index claims {length} bytes of {size}.")
    fh.seek(start)
    magic, frame_size = struct.unpack("<II", fh.read(8))
    if magic != _INDEX_MAGIC or frame_size != length + _TRAILER.size:
        raise FramedArchiveError(f"{bad}: no index frame where its trailer points.")
    try:
        body = zstandard.ZstdDecompressor().decompress(fh.read(length))
    except zstandard.ZstdError as exc:
        raise FramedArchiveError(f"{os.fspath(path)!r}: its index is corrupted ({exc}).") from None
    (head_size,) = struct.unpack_from("<I", body)
    header = json.loads(body[4:4 + head_size])
    pos = 4 + head_size
    n = len(header["session_ids"])
    arrays = {}
    for name in _ARRAYS:
        arrays[name] = np.frombuffer(body, dtype=_ARRAY_DTYPE, count=n, offset=pos).astype(
            np.int64)
        pos += n * _ARRAY_DTYPE.itemsize
    flat = np.cumsum(np.frombuffer(body, dtype="<i8", offset=pos)) + 1
    bounds = np.cumsum([0, *arrays["n_lines"]])
    line_numbers = [flat[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    dictionary = None
    if header["dictionary_id"] or header["layout"] == "side":
        fh.seek(0)
        first = fh.read(8)
        if len(first) == 8 and struct.unpack("<I", first[:4])[0] == _DICTIONARY_MAGIC:
            dictionary = fh.read(struct.unpack("<I", first[4:])[0])
    if zstd_dictionary_id(dictionary) != header["dictionary_id"]:
        raise FramedArchiveError(
            f"{os.fspath(path)!r}: the index names dictionary id {header['dictionary_id']}, "
            f"but the archive holds dictionary id {zstd_dictionary_id(dictionary)}.")
    if n and int((arrays["offsets"] + arrays["lengths"]).max()) > start:
        raise FramedArchiveError(f"{bad}: frames lie past the index.")
    return FramedIndex(
        header["session_ids"], arrays["offsets"], arrays["lengths"], arrays["crc32"],
        arrays["content_bytes"], line_numbers, dictionary, header["dictionary_id"],
        header["level"], header["layout"], header["key"], header["window"], header["n_lines"],
        header["log_bytes"], header["log_crc32"])


def read_framed_index(path):
    """The index of a framed log archive (see :class:`FramedIndex`), without reading its frames.

    Raises :class:`FramedArchiveError` when the file is truncated, its index
    is corrupted, or it is no framed archive.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklog.preprocessing import read_framed_index, write_framed_log
    >>> path = os.path.join(tempfile.mkdtemp(), "log.zst")
    >>> _ = write_framed_log(["a", "b", "c"], path, window=2)
    >>> index = read_framed_index(path)
    >>> index.session_ids, [n.tolist() for n in index.line_numbers]
    (['lines 1-2', 'lines 3-3'], [[1, 2], [3]])
    """
    with open(path, "rb") as fh:
        return _read_index(fh, path)


def _check_frame(path, index, i, frame):
    sid = index.session_ids[i]
    where = f"{os.fspath(path)!r}, session {sid!r} (bytes {index.offsets[i]} to " \
            f"{index.offsets[i] + index.lengths[i]})"
    if len(frame) != index.lengths[i]:
        raise FramedArchiveError(f"{where}: the archive is truncated ({len(frame)} bytes read).")
    if zlib.crc32(frame) != index.crc32[i]:
        raise FramedArchiveError(f"{where}: the frame is corrupted (its CRC32 differs from "
                                 "the index's).")
    try:
        found = zstd_frame_dictionary_id(frame) if frame.startswith(_ZSTD_MAGIC) else None
    except Exception:
        found = None
    if found is None:
        raise FramedArchiveError(f"{where}: not a zstd frame.")
    if found != index.dictionary_id:
        raise FramedArchiveError(f"{where}: compressed with dictionary id {found}, but the "
                                 f"archive's dictionary id is {index.dictionary_id} (0: none).")


def iter_frames(path, *, verify=True) -> Iterator[tuple[str, bytes]]:
    """Yield ``(session_id, frame_bytes)`` for every session of an archive, never decompressing.

    The frames come in the index's order: windows in log order, keyed
    sessions in order of their first line. Each is a complete zstd frame,
    what :class:`ByteWindower` (``input="compressed"``) takes.

    Parameters
    ----------
    path : str or path-like
        An archive written by :func:`write_framed_log`.
    verify : bool, default=True
        Check each frame against the index (length, CRC32, zstd magic and
        dictionary id) and raise :class:`FramedArchiveError` at the first that
        differs: a corrupted or foreign frame is never handed to a model.

    Yields
    ------
    session_id : str
    frame : bytes

    Examples
    --------
    >>> import os, tempfile
    >>> from sklog.preprocessing import ByteWindower, iter_frames, write_framed_log
    >>> path = os.path.join(tempfile.mkdtemp(), "log.zst")
    >>> _ = write_framed_log(["a", "b", "c"], path, window=2)
    >>> ids, frames = zip(*iter_frames(path))
    >>> windower = ByteWindower(input="compressed", dictionary=None).fit(frames)
    >>> windower.transform(frames).shape
    (2, 1024)
    """
    with open(path, "rb") as fh:
        index = _read_index(fh, path)
        for i, sid in enumerate(index.session_ids):
            fh.seek(index.offsets[i])
            frame = fh.read(index.lengths[i])
            if verify:
                _check_frame(path, index, i, frame)
            yield sid, frame


def read_frame_lines(path, session_id, *, index=None):
    """Decompress only one session's frame of an archive and return its lines.

    Parameters
    ----------
    path : str or path-like
        An archive written by :func:`write_framed_log`.
    session_id : str
        The session, as :func:`iter_frames` names it.
    index : FramedIndex, optional
        The archive's index from :func:`read_framed_index`, to read many
        sessions without reading the index each time.

    Returns
    -------
    lines : list of str
        The session's lines, newline removed (decoded as UTF-8 with
        replacement characters).

    Raises
    ------
    KeyError
        No session of that id.
    FramedArchiveError
        The frame is corrupted, truncated or written with another dictionary.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklog.preprocessing import read_frame_lines, write_framed_log
    >>> path = os.path.join(tempfile.mkdtemp(), "log.zst")
    >>> _ = write_framed_log(["a", "b", "c"], path, window=2)
    >>> read_frame_lines(path, "lines 3-3")
    ['c']
    """

    with open(path, "rb") as fh:
        if index is None:
            index = _read_index(fh, path)
        try:
            i = index.session_ids.index(session_id)
        except ValueError:
            raise KeyError(f"{os.fspath(path)!r} has no session {session_id!r}.") from None
        fh.seek(index.offsets[i])
        frame = fh.read(index.lengths[i])
    _check_frame(path, index, i, frame)
    return frame_lines(path, index, i, frame)


def frame_lines(path, index, i, frame):
    """The lines of session ``i``'s (checked) ``frame``, decompressed."""
    import zstandard

    session_id = index.session_ids[i]
    dict_data = None if index.dictionary is None else zstandard.ZstdCompressionDict(
        index.dictionary)
    try:
        data = zstandard.ZstdDecompressor(dict_data=dict_data).decompress(frame)
    except zstandard.ZstdError as exc:
        raise FramedArchiveError(f"{os.fspath(path)!r}, session {session_id!r}: the frame does "
                                 f"not decompress ({exc}).") from None
    if len(data) != index.content_bytes[i]:
        raise FramedArchiveError(f"{os.fspath(path)!r}, session {session_id!r}: "
                                 f"{len(data)} bytes decompressed, the index says "
                                 f"{index.content_bytes[i]}.")
    lines = data.decode("utf-8", "replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def verify_framed_log(path):
    """Check a whole archive: every session frame, and the log ``zstd -d`` restores.

    Each session frame is checked against the index (length, CRC32,
    dictionary id) and decompressed to its recorded size; the log frames are
    decompressed as ``zstd -d`` would (across frames, skipping skippable
    ones) and their size and CRC32 compared with the index's. zstd's own
    content checksum guards the log frames of the ``"side"`` layout; in the
    ``"inline"`` layout (windows without a dictionary) the frames carry none,
    so a damaged byte there is caught by this check or by
    :func:`iter_frames`, not by ``zstd -d`` alone.

    Parameters
    ----------
    path : str or path-like
        An archive written by :func:`write_framed_log`.

    Returns
    -------
    index : FramedIndex

    Raises
    ------
    FramedArchiveError
        The first difference found.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklog.preprocessing import verify_framed_log, write_framed_log
    >>> path = os.path.join(tempfile.mkdtemp(), "log.zst")
    >>> _ = write_framed_log(["a", "b", "c"], path, window=2)
    >>> verify_framed_log(path).log_bytes
    6
    """
    import zstandard

    index = read_framed_index(path)
    dict_data = None if index.dictionary is None else zstandard.ZstdCompressionDict(
        index.dictionary)
    dctx = zstandard.ZstdDecompressor(dict_data=dict_data)
    for i, (sid, frame) in enumerate(iter_frames(path)):
        try:
            size = len(dctx.decompress(frame))
        except zstandard.ZstdError as exc:
            raise FramedArchiveError(f"{os.fspath(path)!r}, session {sid!r}: the frame does "
                                     f"not decompress ({exc}).") from None
        if size != index.content_bytes[i]:
            raise FramedArchiveError(f"{os.fspath(path)!r}, session {sid!r}: {size} bytes "
                                     f"decompressed, the index says {index.content_bytes[i]}.")
    size, crc = 0, 0
    with open(path, "rb") as fh:
        try:
            reader = zstandard.ZstdDecompressor().stream_reader(fh, read_across_frames=True)
            while chunk := reader.read(1 << 20):
                size += len(chunk)
                crc = zlib.crc32(chunk, crc)
        except zstandard.ZstdError as exc:
            raise FramedArchiveError(f"{os.fspath(path)!r}: the log frames do not decompress "
                                     f"({exc}).") from None
    if (size, crc) != (index.log_bytes, index.log_crc32):
        raise FramedArchiveError(f"{os.fspath(path)!r}: the log decompresses to {size} bytes "
                                 f"of CRC32 {crc:#010x}, the index says {index.log_bytes} bytes "
                                 f"of CRC32 {index.log_crc32:#010x}.")
    return index
