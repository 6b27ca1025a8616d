"""Sessions of raw lines -> each session's compressed bytes, a fixed-width array.

:class:`ByteWindower` is the first step of byte-level models (CLAD): it turns
each session into the bytes a compressor writes for it, padded or truncated
to ``max_bytes``. The frames it writes are byte for byte those
:func:`~sklog.preprocessing.write_framed_log` writes into an archive with the
same codec, level and dictionary, so a model scores frames read from disk
(``input="compressed"``) exactly as it scores the same sessions' lines.
"""

from __future__ import annotations

import gzip
import warnings
from collections.abc import Sequence
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

#: The value of padding positions in :class:`ByteWindower`'s output (a byte is 0 to 255).
BYTE_PADDING = -1

#: Codec -> (magic bytes every frame starts with, default level, valid levels).
_CODECS = {
    "zstd": (b"\x28\xb5\x2f\xfd", 3, (-131072, 22)),
    "gzip": (b"\x1f\x8b", 6, (0, 9)),
    "lz4": (b"\x04\x22\x4d\x18", 0, (-1, 16)),
    None: (b"", None, None),
}

_EXPECTED = (
    "expected a sequence of sessions, each a sequence of strings "
    "(e.g. [['line 1', 'line 2'], ['line 3']])"
)
_EXPECTED_FRAMES = (
    "expected a sequence of sessions, each one compressed frame as bytes "
    "(e.g. [frame_1, frame_2], from sklog.preprocessing.iter_frames)"
)


class ByteTruncationWarning(UserWarning):
    """A session's compressed bytes were longer than ``max_bytes`` and were truncated."""


class DictionaryTrainingWarning(UserWarning):
    """Too little training data for a zstd dictionary: frames are written without one."""


def _line_bytes(line, where, i):
    if isinstance(line, str):
        try:
            return line.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a lone surrogate that is no escaped byte
            return line.encode("utf-8", "replace")
    if isinstance(line, (bytes, bytearray, memoryview)):
        return bytes(line)
    raise TypeError(f"{where}session {i} holds a {type(line).__name__}; this step needs raw "
                    f"text lines: {_EXPECTED}.")


def session_bytes(session, *, where="", index=0):
    """The bytes a session's lines make as a log file holds them.

    Each line (``str``, encoded as UTF-8, or ``bytes``, taken as they are) is
    followed by a newline, unless it already ends with one. An empty session
    is ``b""``.

    Examples
    --------
    >>> from sklog.preprocessing import session_bytes
    >>> session_bytes(["open a", b"read \\xff"])
    b'open a\\nread \\xff\\n'
    """
    if type(session) is list or type(session) is tuple:
        try:
            text = "\n".join(session)
        except TypeError:
            pass
        else:  # all str: one join in C, unless a line brings its own newline
            if not session:
                return b""
            if not any(line.endswith("\n") for line in session):
                return _line_bytes(text + "\n", where, index)
    parts = []
    for line in session:
        b = _line_bytes(line, where, index)
        parts.append(b if b.endswith(b"\n") else b + b"\n")
    return b"".join(parts)


def _check_rows(X, where, compressed):
    """``X`` as a list of rows: sessions of lines, or frames (bytes) when ``compressed``."""
    expected = _EXPECTED_FRAMES if compressed else _EXPECTED
    if X is None:
        raise TypeError(f"{where}got None; {expected}.")
    if isinstance(X, (str, bytes, bytearray, memoryview)):
        raise TypeError(f"{where}got a single {type(X).__name__}; {expected}.")
    if hasattr(X, "toarray") or hasattr(X, "tocsr"):
        raise TypeError(f"{where}got a sparse matrix; {expected}.")
    if isinstance(X, np.ndarray):
        if X.dtype.kind in "biufc":
            raise TypeError(f"{where}got a numeric array of shape {X.shape}; this step needs "
                            f"raw text: {expected}.")
        if X.ndim == 0 or X.ndim > 2:
            raise ValueError(f"{where}got an array with {X.ndim} dimensions; {expected}.")
        rows = list(X)
    elif isinstance(X, Sequence) or hasattr(X, "__iter__"):
        rows = list(X)
    else:
        raise TypeError(f"{where}got {type(X).__name__}; {expected}.")
    if not rows:
        raise ValueError(f"{where}Found 0 sessions; at least one is required.")
    for i, row in enumerate(rows):
        if compressed:
            if not isinstance(row, (bytes, bytearray, memoryview, np.bytes_)):
                raise TypeError(f"{where}session {i} is a {type(row).__name__}, not a compressed "
                                f"frame; {expected}.")
        elif isinstance(row, (str, bytes, bytearray)):
            raise TypeError(f"{where}session {i} is a single string, not a sequence of lines; "
                            f"{expected}.")
        elif not hasattr(row, "__iter__"):
            raise TypeError(f"{where}session {i} is a {type(row).__name__}, not a sequence of "
                            f"lines; {expected}.")
    return rows


def _resolve_level(codec, level):
    _, default, bounds = _CODECS[codec]
    if codec is None:
        return None
    if level is None:
        return default
    if not bounds[0] <= level <= bounds[1]:
        raise ValueError(f"level={level!r} is out of range for codec={codec!r}: "
                         f"{bounds[0]} to {bounds[1]}.")
    return int(level)


def compressor(codec, level=None, dictionary=None):
    """``bytes -> bytes``: one frame of ``codec`` per call (``None``: the bytes themselves).

    The one place frames are written, shared by :class:`ByteWindower` and
    :func:`write_framed_log`, so both write the same bytes for the same
    session: zstd frames carry their content size and, with a dictionary, its
    id, and no content checksum (an archive's index holds a CRC32 of every
    frame instead); gzip frames have modification time 0 (deterministic);
    lz4 frames carry no checksum.
    """
    level = _resolve_level(codec, level)
    if codec is None:
        return bytes
    if codec == "zstd":
        import zstandard

        dict_data = None
        if dictionary is not None:
            dict_data = zstandard.ZstdCompressionDict(bytes(dictionary))
            dict_data.precompute_compress(level=level)
        cctx = zstandard.ZstdCompressor(level=level, dict_data=dict_data, write_checksum=False,
                                        write_content_size=True, write_dict_id=True)
        return cctx.compress
    if codec == "gzip":
        return lambda data: gzip.compress(data, compresslevel=level, mtime=0)
    lz4_frame = _import_lz4()
    return lambda data: lz4_frame.compress(data, compression_level=level, content_checksum=False,
                                           store_size=True)


def _import_lz4():
    try:
        import lz4.frame
    except ImportError:
        raise ImportError("codec='lz4' needs the optional lz4 package: pip install lz4 "
                          "(or pip install 'scikit-log[lz4]').") from None
    return lz4.frame


def zstd_dictionary_id(dictionary):
    """The id of a zstd dictionary (``0`` for a raw-content dictionary or ``None``)."""
    if dictionary is None:
        return 0
    import zstandard

    return int(zstandard.ZstdCompressionDict(bytes(dictionary)).dict_id())


def zstd_frame_dictionary_id(frame):
    """The dictionary id in a zstd frame's header (``0``: none), read without decompressing."""
    import zstandard

    return int(zstandard.get_frame_parameters(bytes(frame[:18])).dict_id)


def train_zstd_dictionary(samples, dict_size=16384, level=3):
    """A zstd dictionary trained on ``samples`` (bytes), or ``None`` when they are too few.

    zstd needs a few samples and a few kilobytes in all (on the order of ten
    sessions); with less, or when training fails for another reason of size,
    ``None`` is returned and the caller compresses without a dictionary.
    Training is deterministic: the same samples give the same dictionary.
    Training reads at most about ``128 * dict_size`` bytes (2 MiB for the
    default size): every k-th sample, evenly spread. On the HDFS raw sample a
    dictionary trained on 1 MiB compresses held-out blocks as well as one
    trained on 11 MiB (ratio 9.3 against 9.2), twenty times faster.
    """
    import zstandard

    samples = [s for s in samples if s]
    total = sum(map(len, samples))
    if len(samples) < 8 or total < 1024:
        return None
    step = -(-total // (128 * dict_size))  # ceil
    if step > 1 and len(samples) // step >= 8:
        samples = samples[::step]
    try:
        trained = zstandard.train_dictionary(dict_size, samples, level=level)
    except zstandard.ZstdError:
        return None
    return trained.as_bytes()


class ByteWindower(TransformerMixin, BaseEstimator):
    """Sessions of raw lines -> each session's compressed bytes, ``max_bytes`` wide.

    Each session is written as a log file holds it (every line followed by a
    newline, unless it already ends with one; ``str`` lines as UTF-8,
    ``bytes`` lines as they are) and compressed into one independent frame
    of ``codec``. The frame's bytes fill a row, padded or truncated to
    ``max_bytes``.

    **Output.** One ``int16`` array of shape ``(n_sessions, max_bytes)``: a
    byte is a value from 0 to 255; positions after the frame's end hold
    ``BYTE_PADDING`` (``-1``). Since 0 is a byte like any other, the padding
    value carries each row's true length: ``X >= 0`` is the padding mask,
    ``(X >= 0).sum(axis=1)`` the lengths (``max_bytes`` for a truncated
    frame). A single ndarray keeps what scikit-learn does to rows (slicing,
    ``Pipeline``, ``clone``, ``GridSearchCV``, ``joblib``) working, and a linear
    model or a tree can read it as it is.

    Parameters
    ----------
    codec : {"zstd", "gzip", "lz4"} or None, default="zstd"
        ``"zstd"``: one zstd frame per session, with a dictionary (see
        ``dictionary``) so that frames of a few hundred bytes still compress
        well. ``"gzip"``: a gzip member (modification time 0). ``"lz4"``: an
        lz4 frame; needs the optional ``lz4`` package (an ``ImportError`` says
        so). ``None``: the uncompressed bytes (an ablation).
    level : int, optional
        Compression level; ``None`` is 3 for zstd, 6 for gzip, 0 for lz4.
    max_bytes : int, default=1024
        Width of the output. Longer frames are truncated to their first
        ``max_bytes`` bytes, with one :class:`ByteTruncationWarning` per call
        counting the truncated sessions. On the bundled samples with the
        default zstd settings the longest HDFS block is about 740 bytes and
        99% of BGL windows of 20 lines are under 610.
    input : {"lines", "compressed"}, default="lines"
        ``"lines"``: sessions of raw lines, compressed here.
        ``"compressed"``: each session is already one compressed frame
        (``bytes``, e.g. from :func:`iter_frames`), passed through untouched
        (never decompressed). Its magic bytes must be those of ``codec``, and
        a zstd frame must name the dictionary of this windower (see
        ``dictionary``), else ``ValueError``: a frame written with another
        dictionary would be scored as noise.
    dictionary : "train", bytes or None, default="train"
        zstd only. ``"train"``: with ``input="lines"``, a dictionary of
        ``dict_size`` bytes is trained in ``fit`` on the training sessions
        (``zstandard.train_dictionary``, deterministic, on at most about
        ``128 * dict_size`` bytes of evenly spread sessions). With too little data
        (fewer than 8 non-empty sessions, under 1 KiB in all, or a size zstd
        refuses) frames are compressed without a dictionary: ``dictionary_``
        is ``None`` and a :class:`DictionaryTrainingWarning` says so. With
        ``input="compressed"``, ``"train"`` records the dictionary id the
        training frames share. ``bytes``: this dictionary (e.g. an archive's,
        :func:`read_framed_index`), so that lines are compressed into the
        archive's frames. ``None``: no dictionary. Other codecs accept
        ``"train"`` and ``None`` only, and use none.
    dict_size : int, default=16384
        Size in bytes of a trained dictionary.

    Attributes
    ----------
    dictionary_ : bytes or None
        The zstd dictionary frames are compressed with (``None``: none, or
        not known with ``input="compressed"``).
    dictionary_id_ : int
        Its id as written in every zstd frame's header (``0``: no dictionary);
        with ``input="compressed"`` the id frames must carry.
    level_ : int or None
        The compression level used.

    See Also
    --------
    write_framed_log : write a log as one such frame per session.
    iter_frames : read an archive's frames without decompressing them.

    Notes
    -----
    zstd frames hold their content size and dictionary id but no content
    checksum (4 bytes of noise to a model); an archive's index keeps a
    CRC32 of every frame, which :func:`iter_frames` checks. Compression is
    deterministic: the same sessions and parameters give the same array.
    The windower never decompresses: a frame that is corrupted inside passes
    through ``input="compressed"`` as it is (its header is checked, not its
    body).

    Examples
    --------
    >>> from sklog.preprocessing import ByteWindower
    >>> sessions = [["open file a", "read 10 bytes"], ["open file b"]]
    >>> windower = ByteWindower(codec=None, max_bytes=32).fit(sessions)
    >>> X = windower.transform(sessions)
    >>> X.shape, X.dtype.name
    ((2, 32), 'int16')
    >>> bytes(X[1][X[1] >= 0].astype("uint8"))
    b'open file b\\n'
    >>> (X >= 0).sum(axis=1)
    array([26, 12])
    """

    _parameter_constraints = {
        "codec": [StrOptions({"zstd", "gzip", "lz4"}), None],
        "level": [Interval(Integral, None, None, closed="neither"), None],
        "max_bytes": [Interval(Integral, 1, 2**31 - 1, closed="both")],
        "input": [StrOptions({"lines", "compressed"})],
        "dictionary": [StrOptions({"train"}), bytes, None],
        "dict_size": [Interval(Integral, 256, None, closed="left")],
    }

    def __init__(self, codec="zstd", *, level=None, max_bytes=1024, input="lines",
                 dictionary="train", dict_size=16384):
        self.codec = codec
        self.level = level
        self.max_bytes = max_bytes
        self.input = input
        self.dictionary = dictionary
        self.dict_size = dict_size

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the parameters and, for zstd, train (or record) the dictionary.

        Parameters
        ----------
        X : sequence of sessions
            Sessions of raw lines, or frames (``bytes``) with
            ``input="compressed"``.
        y : ignored

        Returns
        -------
        self : ByteWindower
        """
        where = f"{type(self).__name__}: "
        compressed = self.input == "compressed"
        rows = _check_rows(X, where, compressed)
        self.level_ = _resolve_level(self.codec, self.level)
        if self.codec == "lz4":
            _import_lz4()
        if self.codec != "zstd" and isinstance(self.dictionary, bytes):
            raise ValueError(f"dictionary applies to codec='zstd' only; got a dictionary with "
                             f"codec={self.codec!r}.")
        self.dictionary_, self.dictionary_id_ = None, 0
        if compressed:
            self._check_frames(rows, where, check_dictionary=False)
        if self.codec != "zstd" or self.dictionary is None:
            pass
        elif isinstance(self.dictionary, bytes):
            self.dictionary_ = self.dictionary
            self.dictionary_id_ = zstd_dictionary_id(self.dictionary)
        elif compressed:  # "train" on frames: the dictionary id they share
            ids = sorted({zstd_frame_dictionary_id(row) for row in rows})
            if len(ids) > 1:
                raise ValueError(f"{where}the training frames were compressed with "
                                 f"{len(ids)} different dictionaries (ids {ids[:5]}); "
                                 "frames of one dictionary are expected.")
            self.dictionary_id_ = ids[0]
        else:
            samples = [session_bytes(s, where=where, index=i) for i, s in enumerate(rows)]
            self.dictionary_ = train_zstd_dictionary(samples, self.dict_size, self.level_)
            if self.dictionary_ is None:
                warnings.warn(
                    f"{where}{len(rows)} training session(s) of {sum(map(len, samples))} bytes "
                    "are too little to train a zstd dictionary; frames are compressed without "
                    "one (dictionary_ is None).", DictionaryTrainingWarning, stacklevel=3)
            else:
                self.dictionary_id_ = zstd_dictionary_id(self.dictionary_)
        return self

    def _check_frames(self, rows, where, check_dictionary=True):
        magic = _CODECS[self.codec][0]
        for i, row in enumerate(rows):
            head = bytes(row[:len(magic)])
            if head != magic:
                raise ValueError(f"{where}session {i} is not a {self.codec} frame: it starts "
                                 f"with {head!r}, not {magic!r}.")
            if self.codec != "zstd":
                continue
            try:
                found = zstd_frame_dictionary_id(row)
            except Exception as exc:  # zstandard.ZstdError: a damaged header
                raise ValueError(f"{where}session {i}: damaged zstd frame header "
                                 f"({exc}).") from None
            if check_dictionary and found != self.dictionary_id_:
                raise ValueError(
                    f"{where}session {i} was compressed with dictionary id {found}, but "
                    f"this windower's frames use dictionary id {self.dictionary_id_} "
                    "(0: none); its bytes would not mean what the model learned.")

    def transform(self, X):
        """Compress each session (or pass its frame through) into a row of bytes.

        Parameters
        ----------
        X : sequence of sessions
            Sessions of raw lines, or frames (``bytes``) with
            ``input="compressed"``.

        Returns
        -------
        X_bytes : ndarray of int16, shape (n_sessions, max_bytes)
            Bytes 0 to 255, then ``-1`` (``BYTE_PADDING``) after each frame's end.
        """
        check_is_fitted(self, "level_")
        where = f"{type(self).__name__}: "
        if self.input == "compressed":
            rows = _check_rows(X, where, compressed=True)
            self._check_frames(rows, where)
            frames = [bytes(row) for row in rows]
        else:
            rows = _check_rows(X, where, compressed=False)
            compress = compressor(self.codec, self.level_, self.dictionary_)
            frames = [compress(session_bytes(s, where=where, index=i))
                      for i, s in enumerate(rows)]
        return self._pad(frames, where)

    def _pad(self, frames, where):
        width = self.max_bytes
        out = np.full((len(frames), width), BYTE_PADDING, dtype=np.int16)
        truncated = 0
        for i, frame in enumerate(frames):
            if len(frame) > width:
                truncated += 1
                frame = frame[:width]
            out[i, :len(frame)] = np.frombuffer(frame, dtype=np.uint8)
        if truncated:
            warnings.warn(
                f"{where}{truncated} of {len(frames)} session(s) took more than "
                f"max_bytes={width} {'raw' if self.codec is None else 'compressed'} bytes "
                f"and were truncated to their first "
                f"{width}.", ByteTruncationWarning, stacklevel=4)
        return out

    def get_feature_names_out(self, input_features=None):
        """``byte0`` to ``byte{max_bytes - 1}``: one name per output position.

        Parameters
        ----------
        input_features : ignored
            Sessions have no input features.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self, "level_")
        return np.asarray([f"byte{i}" for i in range(self.max_bytes)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # sessions of raw lines (or frames of bytes), never a 2-D numeric array (GUIDE 5):
        # scikit-learn's generated-array checks cannot apply
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.target_tags.required = False
        return tags
