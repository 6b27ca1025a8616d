"""Bundled loaders (real samples) and the Zenodo fetcher, served from 127.0.0.1."""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import socket
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from sklog.datasets import (
    LOGHUB_2K_SYSTEMS,
    ChecksumError,
    DownloadError,
    fetch_loghub,
    load_bgl_sample,
    load_hdfs_sample,
    load_loghub_2k,
    read_label_table,
)
from sklog.datasets._base import DATA_DIR, DESCR_DIR

LICENCE_LINE = "The above license notice shall be included in all copies of the datasets."
#: Drain's grouping accuracy on the loghub 2k samples as published, to three decimals
#: (Zhu et al., "Tools and Benchmarks for Automated Log Parsing", ICSE-SEIP 2019).
PUBLISHED_DRAIN_ACCURACY = {
    "HDFS": 0.998, "Hadoop": 0.948, "Spark": 0.920, "Zookeeper": 0.967, "OpenStack": 0.733,
    "BGL": 0.963, "HPC": 0.887, "Thunderbird": 0.955, "Windows": 0.997, "Linux": 0.690,
    "Mac": 0.787, "Android": 0.911, "HealthApp": 0.780, "Apache": 1.000, "OpenSSH": 0.788,
    "Proxifier": 0.527,
}


# --------------------------------------------------------------------------- bundled loaders


def _check_traceable(bunch):
    assert len(bunch.data) == len(bunch.target) == len(bunch.line_indices)
    for session, idx in zip(bunch.data, bunch.line_indices, strict=True):
        assert len(session) == len(idx) > 0
        assert [bunch.lines[i] for i in idx] == list(session)


def test_bundled_size_within_budget():
    files = [p for d in (DATA_DIR, DESCR_DIR) for p in d.rglob("*") if p.is_file()]
    total = sum(p.stat().st_size for p in files)
    assert total <= 5 * 1024 * 1024, total
    assert (DATA_DIR / "loghub_LICENSE").read_text().strip().endswith(LICENCE_LINE)


def test_load_hdfs_sample():
    hdfs = load_hdfs_sample()
    assert len(hdfs.data) == 4000 and len(hdfs.lines) == 77021
    _check_traceable(hdfs)
    assert hdfs.target.dtype.kind == "i" and set(np.unique(hdfs.target)) == {0, 1}
    assert int(hdfs.target.sum()) == 106
    # Every line of a session names its block id, and the ids are unique.
    assert len(set(hdfs.session_ids)) == len(hdfs.session_ids)
    for sid, session in zip(hdfs.session_ids[:200], hdfs.data[:200], strict=True):
        assert all(sid in line for line in session)
    assert list(hdfs.target_names) == ["normal", "anomaly"]
    assert "Xu" in hdfs.DESCR and LICENCE_LINE in hdfs.DESCR
    X, y = load_hdfs_sample(return_X_y=True)
    assert X == hdfs.data and np.array_equal(y, hdfs.target)


def test_load_bgl_sample():
    bgl = load_bgl_sample()
    assert len(bgl.lines) == 30000 and len(bgl.data) == 1500
    _check_traceable(bgl)
    assert set(np.unique(bgl.target)) == {0, 1}
    assert int(bgl.line_target.sum()) == 2230
    # A window is anomalous exactly when one of its lines is an alert.
    expected = [int(bgl.line_target[idx].any()) for idx in bgl.line_indices]
    assert bgl.target.tolist() == expected
    # The label column is gone from what models see: lines start with the epoch seconds.
    assert all(re.match(r"\d{10} \d{4}\.\d\d\.\d\d ", line) for line in bgl.lines[:500])
    assert "Oliner" in bgl.DESCR and LICENCE_LINE in bgl.DESCR
    sliding = load_bgl_sample(window=10, step=5)
    _check_traceable(sliding)
    assert all(len(s) == 10 for s in sliding.data[:-1])
    assert sliding.line_indices[1][0] == 5 and len(sliding.data) == 5999
    X, y = load_bgl_sample(window=50, return_X_y=True)
    assert len(X) == len(y) == 600


@pytest.mark.parametrize("system", LOGHUB_2K_SYSTEMS)
def test_load_loghub_2k(system):
    sample = load_loghub_2k(system)
    n = 2000
    assert len(sample.data) == len(sample.lines) == len(sample.target) == n
    assert len(sample.templates) == len(sample.content) == n
    assert sample.system == system and "<Content>" in sample.log_format
    # the bundled table is the published one (its values round half up to the paper's)
    assert sample.drain_grouping_accuracy == pytest.approx(PUBLISHED_DRAIN_ACCURACY[system],
                                                           abs=5e-4 + 1e-9)
    # A reference event id stands for one template, and each message is in its line.
    pairs = set(zip(sample.target, sample.templates, strict=True))
    assert len(pairs) == len(set(sample.target)) > 1
    pairs = zip(sample.content, sample.data, strict=True)
    assert all(content.strip() in line for content, line in pairs)
    assert f"## {system.lower()}" in sample.DESCR.lower() and LICENCE_LINE in sample.DESCR
    if system in ("BGL", "Thunderbird"):
        assert len(sample.line_target) == n
        assert int(sample.line_target.sum()) == (143 if system == "BGL" else 0)
        assert all(not line.startswith("- ") for line in sample.data)
    else:
        assert sample.line_target is None and sample.data == sample.lines
    X, y = load_loghub_2k(system.lower(), return_X_y=True)
    assert X == sample.data and list(y) == list(sample.target)


def test_load_loghub_2k_unknown_system():
    with pytest.raises(ValueError, match="Zookeeper") as info:
        load_loghub_2k("Bogus")
    assert "Bogus" in str(info.value) and "HDFS" in str(info.value)


def test_hdfs_sample_labels_match_the_source(shared_data):
    source = read_label_table(shared_data / "hdfs" / "hdfs_raw_sample_labels.csv")
    hdfs = load_hdfs_sample()
    assert [source[b] for b in hdfs.session_ids] == hdfs.target.tolist()


def test_bundled_files_rebuild_identically(shared_data, tmp_path):
    from sklog.datasets import _make_bundled

    _make_bundled.main(["--source", str(shared_data), "--out", str(tmp_path / "data"),
                        "--descr", str(tmp_path / "descr")])
    for built in sorted((tmp_path / "data").iterdir()):
        assert built.read_bytes() == (DATA_DIR / built.name).read_bytes(), built.name
    assert len(list((tmp_path / "data").iterdir())) == len(list(DATA_DIR.iterdir()))


# --------------------------------------------------------------------------- fetcher


def _payload(n_lines=4000):
    rng = np.random.default_rng(0)
    lines = [f"081109 2035{i % 60:02d} INFO dfs.DataNode: block blk_{rng.integers(1 << 62)}\n"
             for i in range(n_lines)]
    return "".join(lines).encode()


def _zip_bytes(log):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("HDFS.log", log)
        zf.writestr("preprocessed/anomaly_label.csv", "BlockId,Label\nblk_1,Normal\n")
    return buf.getvalue()


def _tar_bytes(log):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("openstack_normal1.log")
        info.size = len(log)
        tf.addfile(info, io.BytesIO(log))
    return buf.getvalue()


class _FakeZenodo:
    """A Zenodo stand-in on 127.0.0.1: record API with md5s, files with Range support."""

    def __init__(self, files):
        self.files = dict(files)
        self.md5 = {k: hashlib.md5(v).hexdigest() for k, v in self.files.items()}
        self.requests = []  # (path, Range header)
        self.drop_next = False  # send half of the next file, then hang up
        self.ignore_range = False
        self.listed_only = {}  # name -> (size, md5): in the record API, not served
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                path = self.path.split("?")[0]
                server.requests.append((path, self.headers.get("Range")))
                if path == "/api/records/8196385":
                    listed = {k: (len(v), server.md5[k]) for k, v in server.files.items()}
                    listed.update(server.listed_only)
                    body = json.dumps({"files": [
                        {"key": k, "size": size, "checksum": f"md5:{md5}"}
                        for k, (size, md5) in listed.items()]}).encode()
                    self._send(200, body, {"Content-Type": "application/json"})
                    return
                name = path.rsplit("/", 1)[-1]
                if not path.startswith("/records/8196385/files/") or name not in server.files:
                    self._send(404, b"not found")
                    return
                data = server.files[name]
                start = 0
                match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
                if match and not server.ignore_range:
                    start = int(match.group(1))
                    if start >= len(data):
                        self._send(416, b"", {"Content-Range": f"bytes */{len(data)}"})
                        return
                headers = {}
                if start:
                    headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
                body = data[start:]
                if server.drop_next:
                    server.drop_next = False
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self._send(206 if start else 200, body, headers)

            def _send(self, code, body, headers=None):
                self.send_response(code)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def file_requests(self):
        return [r for r in self.requests if r[0].startswith("/records/")]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def log_bytes():
    return _payload()


@pytest.fixture()
def zenodo(log_bytes):
    server = _FakeZenodo({"HDFS_v1.zip": _zip_bytes(log_bytes),
                          "OpenStack.tar.gz": _tar_bytes(log_bytes)})
    yield server
    server.close()


@pytest.fixture()
def closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_fetch_downloads_verifies_and_extracts(zenodo, log_bytes, tmp_path):
    result = fetch_loghub("HDFS_v1", data_home=tmp_path, base_url=zenodo.url, verbose=False)
    folder = tmp_path / "HDFS_v1"
    assert result.archive == folder / "HDFS_v1.zip"
    assert result.files == ["HDFS.log", "preprocessed/anomaly_label.csv"]
    assert (result.path / "HDFS.log").read_bytes() == log_bytes
    assert result.sha256 == hashlib.sha256(zenodo.files["HDFS_v1.zip"]).hexdigest()
    assert (folder / "HDFS_v1.zip.sha256").read_text().split()[0] == result.sha256
    assert not (folder / "HDFS_v1.zip.part").exists()
    assert "HDFS_v1.zip" in result.url and LICENCE_LINE in result.DESCR
    assert [r[0] for r in zenodo.requests] == ["/api/records/8196385",
                                               "/records/8196385/files/HDFS_v1.zip"]


def test_fetch_tar_gz_through_environment_variable(zenodo, log_bytes, tmp_path, monkeypatch):
    monkeypatch.setenv("SKLOG_ZENODO_URL", zenodo.url)
    monkeypatch.setenv("SKLOG_DATA", str(tmp_path))
    result = fetch_loghub("openstack", verbose=False)
    assert result.name == "OpenStack" and result.files == ["openstack_normal1.log"]
    assert (result.path / "openstack_normal1.log").read_bytes() == log_bytes
    assert Path(result.path).is_relative_to(tmp_path)


def test_fetch_cache_hit_needs_no_network(zenodo, closed_port_url, tmp_path):
    first = fetch_loghub("HDFS_v1", data_home=tmp_path, base_url=zenodo.url, verbose=False)
    n_requests = len(zenodo.requests)
    again = fetch_loghub("HDFS_v1", data_home=tmp_path, base_url=closed_port_url, verbose=False)
    assert again.files == first.files and again.sha256 == first.sha256
    assert len(zenodo.requests) == n_requests
    # Extraction lost, archive kept: re-extracted after an offline sha256 check.
    shutil.rmtree(first.path)
    third = fetch_loghub("HDFS_v1", data_home=tmp_path, base_url=closed_port_url, verbose=False)
    assert third.files == first.files
    # Archive deleted to save space: the extracted files are still served, offline.
    first.archive.unlink()
    fourth = fetch_loghub("HDFS_v1", data_home=tmp_path, base_url=closed_port_url,
                          verbose=False)
    assert fourth.archive is None and fourth.files == first.files
    assert len(zenodo.requests) == n_requests


def test_fetch_cached_archive_corrupted_offline(zenodo, closed_port_url, tmp_path):
    first = fetch_loghub("HDFS_v1", data_home=tmp_path, base_url=zenodo.url, verbose=False)
    shutil.rmtree(first.path)
    data = bytearray(first.archive.read_bytes())
    data[100] ^= 0xFF
    first.archive.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="sha256"):
        fetch_loghub("HDFS_v1", data_home=tmp_path, base_url=closed_port_url, verbose=False)
    assert not first.archive.exists()


def test_fetch_resumes_a_partial_download(zenodo, log_bytes, tmp_path):
    archive = zenodo.files["HDFS_v1.zip"]
    folder = tmp_path / "HDFS_v1"
    folder.mkdir()
    (folder / "HDFS_v1.zip.part").write_bytes(archive[:40_000])
    result = fetch_loghub("HDFS_v1", data_home=tmp_path, base_url=zenodo.url, verbose=False)
    assert zenodo.file_requests() == [("/records/8196385/files/HDFS_v1.zip", "bytes=40000-")]
    assert result.archive.read_bytes() == archive
    assert (result.path / "HDFS.log").read_bytes() == log_bytes


def test_fetch_resumes_after_an_interrupted_transfer(zenodo, tmp_path):
    archive = zenodo.files["HDFS_v1.zip"]
    zenodo.drop_next = True
    with pytest.raises(DownloadError, match="resume"):
        fetch_loghub("HDFS_v1", data_home=tmp_path, base_url=zenodo.url, verbose=False)
    part = tmp_path / "HDFS_v1" / "HDFS_v1.zip.part"
    assert part.stat().st_size == len(archive) // 2
    result = fetch_loghub("HDFS_v1", data_home=tmp_path, base_url=zenodo.url, verbose=False)
    assert zenodo.file_requests()[-1][1] == f"bytes={len(archive) // 2}-"
    assert result.archive.read_bytes() == archive


def test_fetch_restarts_when_the_server_ignores_range(zenodo, tmp_path):
    archive = zenodo.files["HDFS_v1.zip"]
    folder = tmp_path / "HDFS_v1"
    folder.mkdir()
    (folder / "HDFS_v1.zip.part").write_bytes(b"garbage that must not stay in front")
    zenodo.ignore_range = True
    result = fetch_loghub("HDFS_v1", data_home=tmp_path, base_url=zenodo.url, verbose=False)
    assert result.archive.read_bytes() == archive


def test_fetch_checksum_mismatch_removes_the_file(zenodo, tmp_path):
    zenodo.md5["HDFS_v1.zip"] = "0" * 32
    with pytest.raises(ChecksumError, match="md5") as info:
        fetch_loghub("HDFS_v1", data_home=tmp_path, base_url=zenodo.url, verbose=False)
    assert isinstance(info.value, OSError) and "deleted" in str(info.value)
    assert sorted(p.name for p in (tmp_path / "HDFS_v1").iterdir()) == []
    # A wrong sha256 from the caller is caught too, on top of the record's md5.
    zenodo.md5["HDFS_v1.zip"] = hashlib.md5(zenodo.files["HDFS_v1.zip"]).hexdigest()
    with pytest.raises(ChecksumError, match="sha256"):
        fetch_loghub("HDFS_v1", data_home=tmp_path, base_url=zenodo.url, sha256="ab" * 32,
                     verbose=False)
    assert not any((tmp_path / "HDFS_v1").glob("HDFS_v1.zip*"))


def test_fetch_offline_error_names_url_and_manual_install(closed_port_url, tmp_path):
    with pytest.raises(DownloadError) as info:
        fetch_loghub("BGL", data_home=tmp_path, base_url=closed_port_url, verbose=False)
    assert isinstance(info.value, ConnectionError) and isinstance(info.value, OSError)
    assert closed_port_url in str(info.value)


def test_fetch_http_error_tells_how_to_place_the_file(zenodo, tmp_path):
    # The record lists BGL.zip, but its file URL answers 404.
    zenodo.listed_only["BGL.zip"] = (123, "0" * 32)
    with pytest.raises(DownloadError, match="HTTP 404") as info:
        fetch_loghub("BGL", data_home=tmp_path, base_url=zenodo.url, verbose=False)
    message = str(info.value)
    assert f"{zenodo.url}/records/8196385/files/BGL.zip" in message
    assert str(tmp_path / "BGL" / "BGL.zip") in message
    # A file the record does not list at all.
    with pytest.raises(DownloadError, match="lists no file named 'Hadoop.zip'"):
        fetch_loghub("Hadoop", data_home=tmp_path, base_url=zenodo.url, verbose=False)


def test_fetch_manual_placement_is_verified(zenodo, closed_port_url, tmp_path):
    archive = zenodo.files["HDFS_v1.zip"]
    folder = tmp_path / "HDFS_v1"
    folder.mkdir()
    (folder / "HDFS_v1.zip").write_bytes(archive[:-1] + b"!")  # corrupted by hand
    with pytest.raises(ChecksumError):
        fetch_loghub("HDFS_v1", data_home=tmp_path, base_url=zenodo.url, verbose=False)
    assert not (folder / "HDFS_v1.zip").exists()
    # Offline with a good file and its sha256: accepted without any network.
    (folder / "HDFS_v1.zip").write_bytes(archive)
    digest = hashlib.sha256(archive).hexdigest()
    result = fetch_loghub("HDFS_v1", data_home=tmp_path, base_url=closed_port_url,
                          sha256=digest, verbose=False)
    assert result.sha256 == digest and "HDFS.log" in result.files
    # Offline without a sha256: used, with a warning that it was not verified.
    other = tmp_path / "other"
    (other / "HDFS_v1").mkdir(parents=True)
    (other / "HDFS_v1" / "HDFS_v1.zip").write_bytes(archive)
    with pytest.warns(UserWarning, match="could not be verified"):
        result = fetch_loghub("HDFS_v1", data_home=other, base_url=closed_port_url,
                              verbose=False)
    assert result.sha256 == digest


def test_fetch_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="Thunderbird"):
        fetch_loghub("NotALog", data_home=tmp_path)
    with pytest.raises(OSError, match="download_if_missing"):
        fetch_loghub("HDFS_v1", data_home=tmp_path, download_if_missing=False)
