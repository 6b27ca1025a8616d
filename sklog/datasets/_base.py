"""Loaders of the small, real, labeled samples shipped with the package (no network).

Modelled on scikit-learn's ``load_*``: each returns a :class:`~sklearn.utils.Bunch`
(or ``(X, y)`` with ``return_X_y=True``) whose ``DESCR`` names the source, the
licence and what to cite. The files are built by ``_make_bundled.py``.
"""

from __future__ import annotations

import csv
import io
import json
from functools import lru_cache
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ..preprocessing import (
    bgl_line_labels,
    iter_lines,
    loghub_presets,
    open_log,
    strip_label_column,
)
from ._readers import read_hdfs_raw, read_labeled_lines_windows

DATA_DIR = Path(__file__).resolve().parent / "data"
DESCR_DIR = Path(__file__).resolve().parent / "descr"

LOGHUB_2K_SYSTEMS = (
    "Android", "Apache", "BGL", "HDFS", "HPC", "Hadoop", "HealthApp", "Linux", "Mac",
    "OpenSSH", "OpenStack", "Proxifier", "Spark", "Thunderbird", "Windows", "Zookeeper",
)
# Systems whose first column is an alert label (``-`` = normal).
_LABELED_SYSTEMS = ("BGL", "Thunderbird")
_TARGET_NAMES = np.array(["normal", "anomaly"])


def loghub_license():
    """The loghub licence notice, which must accompany every copy of its data."""
    return (DATA_DIR / "loghub_LICENSE").read_text(encoding="utf-8")


def _descr(*parts):
    texts = [(DESCR_DIR / part).read_text(encoding="utf-8").strip() for part in parts]
    notice = loghub_license().strip()
    return "\n\n".join(texts) + "\n\n.. rubric:: Licence notice\n\n" + notice + "\n"


def load_hdfs_sample(*, return_X_y=False):
    """Load 4,000 raw HDFS blocks (77,021 lines) with their block labels.

    A real, unparsed sample of loghub's HDFS_v1: one session per block,
    labeled by the dataset's authors, at the natural anomaly ratio (106 of
    4,000). Enough to fit and check a pipeline end to end without a download;
    :func:`fetch_loghub` gets the full log.

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : Bunch
        ``data``: list of sessions, each a list of raw lines;
        ``target``: ndarray of int, ``1`` for anomalous blocks;
        ``session_ids``: the block id of each session;
        ``line_indices``: per session, the positions of its lines in ``lines``;
        ``lines``: all raw lines in log order; ``target_names``; ``DESCR``.
    (data, target) : tuple if ``return_X_y`` is True

    Examples
    --------
    >>> from sklog.datasets import load_hdfs_sample
    >>> hdfs = load_hdfs_sample()
    >>> len(hdfs.data), int(hdfs.target.sum())
    (4000, 106)
    >>> hdfs.lines[hdfs.line_indices[0][0]] == hdfs.data[0][0]
    True
    """
    bunch = read_hdfs_raw(DATA_DIR / "hdfs_sample.log.gz", DATA_DIR / "hdfs_sample_labels.csv.gz")
    if return_X_y:
        return bunch.data, bunch.target
    bunch.target_names = _TARGET_NAMES
    bunch.DESCR = _descr("hdfs_sample.rst")
    return bunch


def load_bgl_sample(*, window=20, step=None, return_X_y=False):
    """Load 30,000 time-ordered raw BGL lines cut into windows, with line labels.

    The label column of the raw log is removed from what a model sees and kept
    in ``line_target``; a window is anomalous when one of its lines is an alert.

    Parameters
    ----------
    window : int, default=20
        Lines per window.
    step : int, optional
        Distance between window starts; defaults to ``window`` (no overlap).
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : Bunch
        ``data``: list of windows, each a list of lines without the label
        column; ``target``: ndarray of int, ``1`` for windows with an alert;
        ``line_indices``: per window, the positions of its lines in ``lines``;
        ``lines``: all lines (label column removed); ``line_target``: ndarray of
        int per line; ``target_names``; ``DESCR``.
    (data, target) : tuple if ``return_X_y`` is True

    Examples
    --------
    >>> from sklog.datasets import load_bgl_sample
    >>> bgl = load_bgl_sample(window=20)
    >>> len(bgl.data), len(bgl.lines), int(bgl.line_target.sum())
    (1500, 30000, 2230)
    """
    bunch = read_labeled_lines_windows(DATA_DIR / "bgl_sample.log.gz", size=window, step=step)
    if return_X_y:
        return bunch.data, bunch.target
    bunch.target_names = _TARGET_NAMES
    bunch.DESCR = _descr("bgl_sample.rst")
    return bunch


@lru_cache(maxsize=1)
def _drain_accuracy():
    return json.loads((DATA_DIR / "loghub_2k_drain_accuracy.json").read_text(encoding="utf-8"))


def _system_name(system):
    if isinstance(system, str):
        for name in LOGHUB_2K_SYSTEMS:
            if name.lower() == system.lower():
                return name
    raise ValueError(
        f"Unknown loghub 2k system {system!r}; expected one of {', '.join(LOGHUB_2K_SYSTEMS)}."
    )


def load_loghub_2k(system, *, return_X_y=False):
    """Load the loghub 2k sample of one system with its reference templates.

    The 2,000-line samples of the 16 loghub systems are the standard benchmark
    of template mining; each line comes with the event id and template of the
    reference parse, and the benchmark's parser settings.

    Parameters
    ----------
    system : str
        One of ``LOGHUB_2K_SYSTEMS`` (case-insensitive), e.g. ``"HDFS"``.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : Bunch
        ``data``: list of the 2,000 lines, with the label column removed for
        BGL and Thunderbird; ``target``: ndarray of str, the reference
        ``EventId`` of each line; ``templates``: the reference
        ``EventTemplate`` of each line; ``content``: the message part each
        template describes; ``lines``: the raw lines as distributed;
        ``line_target``: ndarray of int (``1`` = alert) for BGL and
        Thunderbird, else None; ``system``; ``log_format``, ``masking_regex``,
        ``similarity_threshold``, ``depth``, ``drain_grouping_accuracy``: the
        parsing benchmark's settings and Drain's published accuracy; ``DESCR``.
    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    ValueError
        If ``system`` is not one of the 16 systems; the message lists them.

    Examples
    --------
    >>> from sklog.datasets import load_loghub_2k
    >>> hdfs = load_loghub_2k("HDFS")
    >>> len(hdfs.data), len(set(hdfs.target))
    (2000, 14)
    >>> hdfs.templates[0]
    'PacketResponder <*> for block blk_<*> terminating'
    """
    name = _system_name(system)
    lines = list(iter_lines(DATA_DIR / f"loghub_2k_{name}.log.gz"))
    with open_log(DATA_DIR / f"loghub_2k_{name}_structured.csv.gz") as raw:
        reader = csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", errors="replace"))
        rows = list(reader)
    if len(rows) != len(lines):  # pragma: no cover - guards the bundled files
        raise RuntimeError(f"{name}: {len(lines)} lines but {len(rows)} reference rows.")
    labeled = name in _LABELED_SYSTEMS
    data = strip_label_column(lines) if labeled else list(lines)
    target = np.array([row["EventId"] for row in rows], dtype=object)
    if return_X_y:
        return data, target
    settings = loghub_presets()[name]
    return Bunch(
        data=data,
        target=target,
        templates=np.array([row["EventTemplate"] for row in rows], dtype=object),
        content=np.array([row["Content"] for row in rows], dtype=object),
        lines=lines,
        line_target=bgl_line_labels(lines) if labeled else None,
        system=name,
        log_format=settings["log_format"],
        masking_regex=list(settings["masking_regex"]),
        similarity_threshold=settings["similarity_threshold"],
        depth=settings["depth"],
        drain_grouping_accuracy=_drain_accuracy()[name],
        DESCR=_descr("loghub_2k.rst", f"loghub_2k_{name}.md"),
    )
