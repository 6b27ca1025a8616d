"""Framed log archives: zstd -d restores the log exactly; frames are read without decompressing;
every kind of damage gives a clear error."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import warnings

import numpy as np
import pytest
import zstandard

from sklog.datasets import load_bgl_sample, load_hdfs_sample
from sklog.preprocessing import (
    HDFS_BLOCK_KEY,
    ByteTruncationWarning,
    ByteWindower,
    DictionaryTrainingWarning,
    FramedArchiveError,
    _framed,
    iter_frames,
    read_frame_lines,
    read_framed_index,
    sessions_from_lines,
    verify_framed_log,
    windows_from_lines,
    write_framed_log,
)

ZSTD_CLI = shutil.which("zstd")


def _log_bytes(lines):
    return "".join(line + "\n" for line in lines).encode()


def _stream_decompress(path):
    """What any zstd streaming decoder restores (skippable frames skipped)."""
    with open(path, "rb") as fh:
        return zstandard.ZstdDecompressor().stream_reader(fh, read_across_frames=True).read()


def _zstd_cli(path):
    return subprocess.run([ZSTD_CLI, "-d", "-c", "-q", str(path)], capture_output=True,
                          check=True).stdout


@pytest.fixture(scope="module")
def hdfs():
    return load_hdfs_sample()


@pytest.fixture(scope="module")
def bgl_lines():
    return load_bgl_sample().lines


@pytest.fixture(scope="module")
def hdfs_archive(hdfs, tmp_path_factory):
    path = tmp_path_factory.mktemp("framed") / "hdfs.zst"
    index = write_framed_log(hdfs.lines, path, session_key=HDFS_BLOCK_KEY, dictionary="train")
    return path, index


# ------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("dictionary", [None, "train"])
def test_hdfs_blocks_round_trip(hdfs, tmp_path, dictionary):
    path = tmp_path / "hdfs.zst"
    index = write_framed_log(hdfs.lines, path, session_key=HDFS_BLOCK_KEY, dictionary=dictionary)
    original = _log_bytes(hdfs.lines)
    assert index.layout == "side"  # blocks interleave: the log is kept in order beside them
    assert _stream_decompress(path) == original
    if ZSTD_CLI:
        assert _zstd_cli(path) == original
    # one frame per block, in the order of sessions_from_lines, with its line numbers
    assert index.session_ids == hdfs.session_ids
    for numbers, positions in zip(index.line_numbers, hdfs.line_indices, strict=True):
        np.testing.assert_array_equal(numbers, positions + 1)
    assert (dictionary is None) == (index.dictionary is None)
    ids = [sid for sid, _ in iter_frames(path)]
    assert ids == hdfs.session_ids
    for i in (0, 17, 3999):
        assert read_frame_lines(path, hdfs.session_ids[i]) == hdfs.data[i]
        assert read_frame_lines(path, hdfs.session_ids[i], index=index) == hdfs.data[i]
    assert verify_framed_log(path).n_lines == len(hdfs.lines)


@pytest.mark.parametrize("dictionary", [None, "train"])
def test_bgl_windows_round_trip(bgl_lines, tmp_path, dictionary):
    path = tmp_path / "bgl.zst"
    index = write_framed_log(bgl_lines, path, window=20, dictionary=dictionary)
    original = _log_bytes(bgl_lines)
    # without a dictionary the windows' frames are the log itself
    assert index.layout == ("inline" if dictionary is None else "side")
    assert _stream_decompress(path) == original
    if ZSTD_CLI:
        assert _zstd_cli(path) == original
    windows, positions = windows_from_lines(bgl_lines, size=20)
    assert index.session_ids[:2] == ["lines 1-20", "lines 21-40"]
    assert len(index.session_ids) == len(windows) == 1500
    assert read_frame_lines(path, "lines 29981-30000") == windows[-1]
    np.testing.assert_array_equal(index.line_numbers[7], positions[7] + 1)
    verify_framed_log(path)
    if dictionary is None:  # no session frame is stored twice
        frames = sum(len(f) for _, f in iter_frames(path))
        assert path.stat().st_size < frames + 40_000


@pytest.mark.skipif(ZSTD_CLI is None, reason="the zstd command-line tool is not installed")
def test_zstd_cli_test_mode_accepts_the_archive(hdfs_archive):
    result = subprocess.run([ZSTD_CLI, "-t", "-q", str(hdfs_archive[0])], capture_output=True)
    assert result.returncode == 0, result.stderr


def test_a_log_file_is_restored_byte_for_byte(tmp_path):
    """CRLF, bytes that are not UTF-8, a line with no id, no final newline: all kept."""
    raw = (b"open blk_1\r\nopen blk_2 \xff\xfe\nno block here\n\nclose blk_1 blk_2\n"
           b"close blk_2")
    log = tmp_path / "app.log.gz"
    log.write_bytes(gzip.compress(raw))
    for cut in ({"session_key": HDFS_BLOCK_KEY}, {"window": 2}):
        path = tmp_path / "app.zst"
        index = write_framed_log(log, path, **cut)
        assert _stream_decompress(path) == raw
        if ZSTD_CLI:
            assert _zstd_cli(path) == raw
        assert index.n_lines == 6 and index.log_bytes == len(raw)
        verify_framed_log(path)
    path = tmp_path / "app.zst"
    write_framed_log(log, path, session_key=HDFS_BLOCK_KEY)
    assert read_frame_lines(path, "blk_2") == ["open blk_2 \ufffd\ufffd", "close blk_1 blk_2",
                                               "close blk_2"]
    assert read_frame_lines(path, "blk_1") == ["open blk_1\r", "close blk_1 blk_2"]


def test_frames_are_the_windowers_frames(hdfs, hdfs_archive):
    """input='compressed' on an archive's frames == input='lines' on the same sessions."""
    path, index = hdfs_archive
    frames = [frame for _, frame in iter_frames(path)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ByteTruncationWarning)
        from_lines = ByteWindower(dictionary=index.dictionary).fit(hdfs.data[:1]) \
            .transform(hdfs.data)
        from_disk = ByteWindower(input="compressed").fit(frames).transform(frames)
    np.testing.assert_array_equal(from_disk, from_lines)
    # and a windower fitted on the lines writes an archive its model reads
    sessions, _, _ = sessions_from_lines(hdfs.lines[:3000])
    fitted = ByteWindower().fit(sessions)
    other = path.parent / "with_fitted_dictionary.zst"
    write_framed_log(hdfs.lines[:3000], other, session_key=HDFS_BLOCK_KEY,
                     dictionary=fitted.dictionary_)
    frames = [frame for _, frame in iter_frames(other)]
    np.testing.assert_array_equal(
        ByteWindower(input="compressed", dictionary=fitted.dictionary_).fit(frames)
        .transform(frames), fitted.transform(sessions))


# ------------------------------------------------------------------------- robustness
def _flip(path, offset, out):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x55
    out.write_bytes(bytes(data))
    return out


@pytest.mark.parametrize("cut", [{"session_key": HDFS_BLOCK_KEY}, {"window": 20}])
def test_corrupted_frame_is_an_error_never_a_silent_result(hdfs, tmp_path, cut):
    path = tmp_path / "a.zst"
    index = write_framed_log(hdfs.lines[:4000], path, **cut)
    i = 5
    bad = _flip(path, int(index.offsets[i] + index.lengths[i] // 2), tmp_path / "bad.zst")
    sid = index.session_ids[i]
    with pytest.raises(FramedArchiveError, match=f"session '{sid}'.*corrupted"):
        list(iter_frames(bad))
    frames = list(iter_frames(bad, verify=False))  # documented: verify=False reads as stored
    assert len(frames) == len(index.session_ids)
    with pytest.raises(FramedArchiveError, match="corrupted"):
        read_frame_lines(bad, sid)
    with pytest.raises(FramedArchiveError, match="corrupted"):
        verify_framed_log(bad)
    # the sessions before the damaged one are still read, in order
    it = iter_frames(bad)
    assert [next(it)[0] for _ in range(i)] == index.session_ids[:i]
    assert read_frame_lines(bad, index.session_ids[0]) == read_frame_lines(
        path, index.session_ids[0])


def test_corrupted_log_frame_fails_zstd_d_in_the_side_layout(hdfs, tmp_path):
    path = tmp_path / "a.zst"
    index = write_framed_log(hdfs.lines[:2000], path, session_key=HDFS_BLOCK_KEY)
    first_session = int(index.offsets.min()) - 8  # the log frames lie before it
    bad = _flip(path, first_session // 2, tmp_path / "bad.zst")
    with pytest.raises(zstandard.ZstdError):  # zstd's content checksum
        _stream_decompress(bad)
    if ZSTD_CLI:
        assert subprocess.run([ZSTD_CLI, "-d", "-c", "-q", str(bad)],
                              capture_output=True).returncode != 0
    with pytest.raises(FramedArchiveError, match="do not decompress"):
        verify_framed_log(bad)
    assert len(list(iter_frames(bad))) == len(index.session_ids)  # session frames intact


def test_truncated_archive_is_an_error(hdfs_archive, tmp_path):
    path, index = hdfs_archive
    data = path.read_bytes()
    for keep in (0, 10, 100, int(index.offsets[2000]), len(data) - 30, len(data) - 1):
        cut = tmp_path / "cut.zst"
        cut.write_bytes(data[:keep])
        with pytest.raises(FramedArchiveError, match="truncated or not a framed log archive"):
            read_framed_index(cut)
        with pytest.raises(FramedArchiveError):
            list(iter_frames(cut))
        with pytest.raises(FramedArchiveError):
            read_frame_lines(cut, index.session_ids[0])


def test_not_an_archive_and_corrupted_index(tmp_path, hdfs_archive):
    plain = tmp_path / "plain.zst"
    plain.write_bytes(zstandard.ZstdCompressor().compress(b"a line\n" * 100))
    with pytest.raises(FramedArchiveError, match="not a framed log archive"):
        list(iter_frames(plain))
    path, index = hdfs_archive
    size = path.stat().st_size
    bad = _flip(path, size - 100, tmp_path / "bad_index.zst")
    with pytest.raises(FramedArchiveError, match="index is corrupted"):
        read_framed_index(bad)
    with pytest.raises(KeyError, match="no session 'blk_nope'"):
        read_frame_lines(path, "blk_nope")


def test_frame_larger_than_max_bytes_is_truncated_with_one_warning(hdfs_archive):
    path, index = hdfs_archive
    frames = [frame for _, frame in iter_frames(path)]
    windower = ByteWindower(input="compressed", max_bytes=200).fit(frames)
    longer = int((index.lengths > 200).sum())
    assert 0 < longer < len(frames)
    with pytest.warns(ByteTruncationWarning, match=f"{longer} of {len(frames)} session"):
        X = windower.transform(frames)
    row = int(np.argmax(index.lengths))
    np.testing.assert_array_equal(X[row], np.frombuffer(frames[row][:200], dtype=np.uint8))


def test_empty_log(tmp_path):
    for cut in ({"session_key": HDFS_BLOCK_KEY}, {"window": 20}):
        path = tmp_path / "empty.zst"
        index = write_framed_log([], path, **cut)
        assert index.session_ids == [] and index.n_lines == 0 and index.log_bytes == 0
        assert list(iter_frames(path)) == []
        assert _stream_decompress(path) == b""
        if ZSTD_CLI:
            assert _zstd_cli(path) == b""
        verify_framed_log(path)
    # a log whose lines hold no session id: the log is kept, no session
    path = tmp_path / "no_ids.zst"
    index = write_framed_log(["no id here", "nor here"], path, session_key=HDFS_BLOCK_KEY)
    assert index.session_ids == [] and _stream_decompress(path) == b"no id here\nnor here\n"
    # training a dictionary on nothing: none, with the windower's warning
    with pytest.warns(DictionaryTrainingWarning):
        index = write_framed_log(["a blk_1"], path, session_key=HDFS_BLOCK_KEY,
                                 dictionary="train")
    assert index.dictionary is None and read_frame_lines(path, "blk_1") == ["a blk_1"]


def test_frame_of_another_dictionary_is_an_error(hdfs, tmp_path, monkeypatch):
    lines = hdfs.lines[:3000]
    sessions, ids, _ = sessions_from_lines(lines)
    own = ByteWindower().fit(sessions[::2])
    foreign = ByteWindower().fit(sessions[1::2])
    assert own.dictionary_id_ != foreign.dictionary_id_
    real = _framed.compressor
    calls = []

    def mixed(codec, level=None, dictionary=None):  # a writer that mixed up dictionaries
        own_compress = real(codec, level, dictionary)
        other_compress = real(codec, level, foreign.dictionary_)

        def compress(data):
            calls.append(1)
            return other_compress(data) if len(calls) == 4 else own_compress(data)

        return compress

    monkeypatch.setattr(_framed, "compressor", mixed)
    path = tmp_path / "mixed.zst"
    write_framed_log(lines, path, session_key=HDFS_BLOCK_KEY, dictionary=own.dictionary_)
    monkeypatch.undo()
    with pytest.raises(FramedArchiveError, match=f"session '{ids[3]}'.*compressed with "
                                                 f"dictionary id {foreign.dictionary_id_}"):
        list(iter_frames(path))
    with pytest.raises(FramedArchiveError, match="dictionary id"):
        read_frame_lines(path, ids[3])
    # unverified, the windower fitted on the archive's dictionary still refuses the frame
    frames = [frame for _, frame in iter_frames(path, verify=False)]
    windower = ByteWindower(input="compressed", dictionary=own.dictionary_).fit(frames[:3])
    with pytest.raises(ValueError, match="session 3 was compressed with dictionary id"):
        windower.transform(frames)


def test_rejects_bad_arguments(tmp_path):
    path = tmp_path / "x.zst"
    with pytest.raises(ValueError, match="exactly one of session_key and window"):
        write_framed_log(["a"], path)
    with pytest.raises(ValueError, match="exactly one of session_key and window"):
        write_framed_log(["a"], path, session_key=HDFS_BLOCK_KEY, window=2)
    with pytest.raises(ValueError, match="codec must be 'zstd'"):
        write_framed_log(["a"], path, window=2, codec="gzip")
    with pytest.raises(ValueError, match="dictionary must be"):
        write_framed_log(["a"], path, window=2, dictionary="yes")
    with pytest.raises(TypeError, match="raw text"):
        write_framed_log(["a", 3], path, window=2)


def test_deterministic(hdfs, tmp_path):
    a, b = tmp_path / "a.zst", tmp_path / "b.zst"
    write_framed_log(hdfs.lines[:5000], a, session_key=HDFS_BLOCK_KEY, dictionary="train")
    write_framed_log(hdfs.lines[:5000], b, session_key=HDFS_BLOCK_KEY, dictionary="train")
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.slow
def test_shared_hdfs_raw_sample_round_trip(shared_data, tmp_path):
    log = shared_data / "hdfs" / "hdfs_raw_sample.log.gz"
    if not log.exists():
        pytest.skip(f"{log} is absent")
    path = tmp_path / "hdfs.zst"
    index = write_framed_log(log, path, session_key=HDFS_BLOCK_KEY, dictionary="train")
    original = gzip.decompress(log.read_bytes())
    assert _stream_decompress(path) == original
    if ZSTD_CLI:
        assert _zstd_cli(path) == original
    assert verify_framed_log(path).log_bytes == len(original)
    assert sum(1 for _ in iter_frames(path)) == len(index.session_ids)
