"""Download, verify, cache and extract the full loghub archives from Zenodo.

Checksum rule. The loghub Zenodo record (8196385) publishes an md5 and a size
for every file in its record API, but no sha256, and none could be verified
while writing this module, so none is hard-coded. Instead:

1. Before a download, the record API (``<base_url>/api/records/8196385``) is
   read for the file's md5 and size; the finished download must match both.
   A ``sha256`` given by the caller (or pinned in :data:`LOGHUB_ARCHIVES`) must
   match as well.
2. The sha256 of the verified archive is then written next to it
   (``<file>.sha256``). Later calls verify the cached archive against that
   digest without any network access (trust on first verified download).
3. An archive placed by hand is verified against the record when it can be
   reached, else against ``sha256`` when given; when neither is possible it is
   used with a warning saying it could not be verified.

A file that fails verification is deleted and :class:`ChecksumError` raised.
Downloads go to ``<data_home>/<name>/<file>.part`` and resume with an HTTP
``Range`` request; the archive is extracted to ``<data_home>/<name>/extracted``.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import tarfile
import warnings
import zipfile
from pathlib import Path
from typing import NamedTuple
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from sklearn.utils import Bunch

from ._base import loghub_license
from ._readers import data_home as _data_home

ZENODO_URL = "https://zenodo.org"
LOGHUB_RECORD = "8196385"
_CHUNK = 1 << 20


class LoghubArchive(NamedTuple):
    """One file of the loghub Zenodo record (line counts and sizes from loghub's README)."""

    file: str
    description: str
    n_lines: int
    raw_size: str
    labeled: bool
    sha256: str | None = None  # pin here once verified; see the module docstring


LOGHUB_ARCHIVES = {
    "HDFS_v1": LoghubArchive("HDFS_v1.zip", "Hadoop distributed file system log (labeled "
                             "per block)", 11_175_629, "1.47 GiB", True),
    "HDFS_v2": LoghubArchive("HDFS_v2.zip", "Hadoop distributed file system log",
                             71_118_073, "16.06 GiB", False),
    "HDFS_v3": LoghubArchive("HDFS_v3_TraceBench.zip", "Instrumented HDFS trace log "
                             "(TraceBench)", 14_778_079, "2.96 GiB", True),
    "Hadoop": LoghubArchive("Hadoop.zip", "Hadoop mapreduce job log", 394_308, "48.61 MiB", True),
    "Spark": LoghubArchive("Spark.tar.gz", "Spark job log", 33_236_604, "2.75 GiB", False),
    "Zookeeper": LoghubArchive("Zookeeper.tar.gz", "ZooKeeper service log", 74_380,
                               "9.95 MiB", False),
    "OpenStack": LoghubArchive("OpenStack.tar.gz", "OpenStack infrastructure log", 207_820,
                               "58.61 MiB", True),
    "BGL": LoghubArchive("BGL.zip", "Blue Gene/L supercomputer log (labeled per line)",
                         4_747_963, "708.76 MiB", True),
    "HPC": LoghubArchive("HPC.zip", "High performance cluster log", 433_489, "32.00 MiB", False),
    "Thunderbird": LoghubArchive("Thunderbird.tar.gz", "Thunderbird supercomputer log "
                                 "(labeled per line)", 211_212_192, "29.60 GiB", True),
    "Windows": LoghubArchive("Windows.tar.gz", "Windows event log", 114_608_388, "26.09 GiB",
                             False),
    "Linux": LoghubArchive("Linux.tar.gz", "Linux system log", 25_567, "2.25 MiB", False),
    "Mac": LoghubArchive("Mac.tar.gz", "Mac OS log", 117_283, "16.09 MiB", False),
    "Android_v1": LoghubArchive("Android_v1.zip", "Android framework log", 1_555_005,
                                "183.37 MiB", False),
    "Android_v2": LoghubArchive("Android_v2.zip", "Android framework log", 30_348_042,
                                "3.38 GiB", False),
    "HealthApp": LoghubArchive("HealthApp.tar.gz", "Health app log", 253_395, "22.44 MiB", False),
    "Apache": LoghubArchive("Apache.tar.gz", "Apache web server error log", 56_481, "4.90 MiB",
                            False),
    "OpenSSH": LoghubArchive("SSH.tar.gz", "OpenSSH server log", 655_146, "70.02 MiB", False),
    "Proxifier": LoghubArchive("Proxifier.tar.gz", "Proxifier software log", 21_329, "2.42 MiB",
                               False),
}


class DownloadError(ConnectionError):
    """A download could not start or finish (offline, refused, HTTP error, cut short)."""


class ChecksumError(OSError):
    """A downloaded or cached file does not match its expected size or digest."""


def _base_url(base_url):
    return (base_url or os.environ.get("SKLOG_ZENODO_URL") or ZENODO_URL).rstrip("/")


def _archive_name(name):
    if isinstance(name, str):
        for key in LOGHUB_ARCHIVES:
            if key.lower() == name.lower():
                return key
    raise ValueError(
        f"Unknown loghub archive {name!r}; expected one of {', '.join(LOGHUB_ARCHIVES)}."
    )


def _manual_hint(url, target):
    return (f"To install it by hand, download {url} with any tool and save it as {target}, "
            "then call fetch_loghub again (pass sha256=... to verify it offline).")


def _open(url, timeout, headers=None):
    request = Request(url, headers={"User-Agent": "scikit-log", **(headers or {})})
    return urlopen(request, timeout=timeout)


def _record_entry(base, file, timeout):
    """``(md5, size)`` of ``file`` from the Zenodo record API; raises DownloadError."""
    url = f"{base}/api/records/{LOGHUB_RECORD}"
    try:
        with _open(url, timeout) as response:
            meta = json.loads(response.read().decode("utf-8"))
    except (URLError, OSError, http.client.HTTPException, ValueError) as exc:
        raise DownloadError(f"Could not read the checksums of the loghub record at {url}: "
                            f"{getattr(exc, 'reason', exc)}.") from exc
    files = meta.get("files", [])
    if isinstance(files, dict):  # the record's /files endpoint shape
        files = files.get("entries", [])
    if isinstance(files, dict):
        files = list(files.values())
    for entry in files:
        if (entry.get("key") or entry.get("filename")) == file:
            checksum = str(entry.get("checksum", ""))
            algo, _, digest = checksum.rpartition(":")
            if algo not in ("", "md5"):
                raise ChecksumError(f"Unexpected checksum {checksum!r} for {file} at {url}.")
            size = entry.get("size", entry.get("filesize"))
            return digest.lower(), (int(size) if size is not None else None)
    raise DownloadError(f"The loghub record at {url} lists no file named {file!r}.")


def _digests(path):
    md5, sha256 = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            md5.update(chunk)
            sha256.update(chunk)
    return md5.hexdigest(), sha256.hexdigest()


def _download(url, part, *, size, timeout, verbose):
    """Append ``url`` to ``part``, resuming from its current length with ``Range``."""
    from tqdm.auto import tqdm

    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset > size:
        part.unlink()
        offset = 0
    if size is not None and offset == size:
        return
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        response = _open(url, timeout, headers)
    except HTTPError as exc:
        if exc.code == 416 and offset:  # nothing left to send: the part is complete
            return
        raise DownloadError(f"Downloading {url} failed: HTTP {exc.code} {exc.reason}. "
                            + _manual_hint(url, part.with_suffix(""))) from exc
    except (URLError, OSError, http.client.HTTPException) as exc:
        raise DownloadError(f"Could not download {url}: {getattr(exc, 'reason', exc)}. "
                            "Check your network connection. "
                            + _manual_hint(url, part.with_suffix(""))) from exc
    with response:
        content_range = response.headers.get("Content-Range", "")
        if offset and not (response.status == 206
                           and content_range.startswith(f"bytes {offset}-")):
            offset = 0  # the server ignored the Range request: start over
        length = response.headers.get("Content-Length")
        expected = int(length) if length is not None else None
        total = offset + expected if expected is not None else size
        received = 0
        try:
            with open(part, "ab" if offset else "wb") as out, tqdm(
                total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                desc=part.with_suffix("").name, disable=not verbose, leave=False,
            ) as bar:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        except (OSError, http.client.HTTPException) as exc:
            raise DownloadError(f"Download of {url} was interrupted ({exc}); call "
                                "fetch_loghub again to resume it.") from exc
    if expected is not None and received < expected:
        raise DownloadError(f"Download of {url} stopped after {offset + received} of "
                            f"{offset + expected} bytes; call fetch_loghub again to resume it.")


def _check(path, *, md5=None, size=None, sha256=None, source=""):
    """Verify ``path``; delete it and raise ChecksumError on any mismatch."""
    actual_size = path.stat().st_size
    got_md5, got_sha256 = _digests(path)
    problems = []
    if size is not None and actual_size != size:
        problems.append(f"size {actual_size} instead of {size}")
    if md5 and got_md5 != md5:
        problems.append(f"md5 {got_md5} instead of {md5}")
    if sha256 and got_sha256 != sha256.lower():
        problems.append(f"sha256 {got_sha256} instead of {sha256.lower()}")
    if problems:
        path.unlink()
        raise ChecksumError(f"{path.name} does not match {source}: {'; '.join(problems)}. "
                            "The file was deleted; call fetch_loghub again to download it anew.")
    return got_sha256


def _verify_placed(archive, base, file, sha256, timeout):
    """Verify an archive placed by hand: against the record if reachable, else ``sha256``."""
    try:
        md5, size = _record_entry(base, file, timeout)
        source = "the loghub record"
    except DownloadError:
        if not sha256:
            warnings.warn(f"{archive} could not be verified: the Zenodo record is out of "
                          "reach and no sha256 was given. Using it as it is.",
                          UserWarning, stacklevel=3)
        md5 = size = None
        source = "the sha256 given"
    return _check(archive, md5=md5, size=size, sha256=sha256, source=source)


def _safe_target(root, member):
    target = (root / member).resolve()
    if root.resolve() not in (target, *target.parents):
        raise ValueError(f"Refusing to extract {member!r} outside {root}.")
    return target


def _extract(archive, folder):
    """Extract into ``folder/extracted`` via a temporary folder, so a crash leaves no half."""
    final, tmp = folder / "extracted", folder / "extracted.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                _safe_target(tmp, member)
            zf.extractall(tmp)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            if hasattr(tarfile, "data_filter"):
                tf.extractall(tmp, filter="data")
            else:  # pragma: no cover - Python without extraction filters
                for member in tf.getmembers():
                    _safe_target(tmp, member.name)
                    if member.issym() or member.islnk():
                        raise ValueError(f"Refusing to extract link {member.name!r}.")
                tf.extractall(tmp)
    else:
        shutil.rmtree(tmp)
        raise ChecksumError(f"{archive} is neither a zip nor a tar archive.")
    tmp.rename(final)
    return final


def _describe(name, spec, url):
    return (
        f"loghub {name}: {spec.description}.\n\n"
        f":Lines: {spec.n_lines:,}\n:Raw size: {spec.raw_size}\n"
        f":Labeled: {'yes' if spec.labeled else 'no'}\n:Source: {url} "
        f"(Zenodo record {LOGHUB_RECORD}, https://github.com/logpai/loghub)\n\n"
        "Cite: Jieming Zhu, Shilin He, Pinjia He, Jinyang Liu, Michael R. Lyu. Loghub: A "
        "Large Collection of System Log Datasets for AI-driven Log Analytics. ISSRE 2023, "
        "and the paper that released this log (see the loghub README).\n\n"
        ".. rubric:: Licence notice\n\n" + loghub_license()
    )


def fetch_loghub(name, data_home=None, *, base_url=None, sha256=None,
                 download_if_missing=True, timeout=60, verbose=True):
    """Download (once) and extract a full loghub archive from its Zenodo record.

    The archive is cached under the data home, downloads resume where they
    stopped, and every file is verified before use (see the checksum rule in
    :mod:`sklog.datasets._fetch`). No network is used when the archive is
    already extracted.

    Parameters
    ----------
    name : str
        A key of ``LOGHUB_ARCHIVES`` (case-insensitive): ``"HDFS_v1"``,
        ``"BGL"``, ``"Thunderbird"``, ``"OpenStack"``, ``"Hadoop"``, ...
    data_home : str or path, optional
        Cache folder; defaults to ``$SKLOG_DATA`` or ``~/sklog_data``.
    base_url : str, optional
        Zenodo server; defaults to ``$SKLOG_ZENODO_URL`` or https://zenodo.org
        (a mirror, or a local server in tests).
    sha256 : str, optional
        Expected sha256 of the archive, checked in addition to the record's md5.
    download_if_missing : bool, default=True
        If False, raise ``OSError`` instead of downloading.
    timeout : float, default=60
        Seconds to wait for the server on each request.
    verbose : bool, default=True
        Show a progress bar while downloading.

    Returns
    -------
    data : Bunch
        ``path``: the folder the archive was extracted to; ``files``: the
        extracted files relative to ``path``; ``archive``: the cached archive
        (None if you deleted it after extraction to save space); ``sha256``:
        its verified digest; ``url``; ``name``; ``DESCR`` (source, licence,
        citation).

    Raises
    ------
    DownloadError
        A ``ConnectionError`` (hence ``OSError``) when the server cannot be
        reached or the transfer fails; the message names the URL and how to
        place the file by hand.
    ChecksumError
        When the file does not match; the bad file is deleted.

    Examples
    --------
    >>> from sklog.datasets import fetch_loghub
    >>> hdfs = fetch_loghub("HDFS_v1")  # doctest: +SKIP
    >>> sorted(hdfs.files)[:2]  # doctest: +SKIP
    """
    name = _archive_name(name)
    spec = LOGHUB_ARCHIVES[name]
    base = _base_url(base_url)
    url = f"{base}/records/{LOGHUB_RECORD}/files/{spec.file}?download=1"
    folder = Path(_data_home(data_home)) / name
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / spec.file
    part = folder / (spec.file + ".part")
    pin = folder / (spec.file + ".sha256")
    extracted = folder / "extracted"
    expected_sha256 = (sha256 or spec.sha256 or "").lower() or None

    digest = pin.read_text(encoding="utf-8").split()[0] if pin.exists() else None
    if digest and expected_sha256 and digest != expected_sha256:
        digest = None  # the caller expects another file: verify it again
    if digest and not extracted.is_dir():
        if archive.exists():  # verified before: check it again, offline
            _check(archive, sha256=digest, source=f"the digest recorded in {pin.name}")
        else:
            digest = None
    if digest is None:
        pin.unlink(missing_ok=True)
        shutil.rmtree(extracted, ignore_errors=True)
        if archive.exists():  # placed by hand
            digest = _verify_placed(archive, base, spec.file, expected_sha256, timeout)
        elif not download_if_missing:
            raise OSError(f"{archive} is not cached and download_if_missing=False. "
                          + _manual_hint(url, archive))
        else:
            md5, size = _record_entry(base, spec.file, timeout)
            _download(url, part, size=size, timeout=timeout, verbose=verbose)
            digest = _check(part, md5=md5, size=size, sha256=expected_sha256,
                            source=f"the loghub record at {base}")
            part.rename(archive)
        pin.write_text(f"{digest}  {spec.file}\n", encoding="utf-8")

    if not extracted.is_dir():
        extracted = _extract(archive, folder)
    files = sorted(p.relative_to(extracted).as_posix()
                   for p in extracted.rglob("*") if p.is_file())
    return Bunch(
        path=extracted,
        files=files,
        archive=archive if archive.exists() else None,
        sha256=digest,
        url=url,
        name=name,
        DESCR=_describe(name, spec, url),
    )
