"""Readers for the public log formats, shared by bundled loaders, fetchers and benchmarks."""

from __future__ import annotations

import csv
import os

from sklearn.utils import Bunch

from ..preprocessing import (
    HDFS_BLOCK_KEY,
    bgl_line_labels,
    iter_lines,
    labels_from_line_labels,
    labels_from_table,
    open_log,
    sessions_from_lines,
    strip_label_column,
    windows_from_lines,
)


def _read_csv_rows(path):
    import io

    with open_log(path) as raw:
        yield from csv.reader(io.TextIOWrapper(raw, encoding="utf-8", errors="replace"))


def read_label_table(path):
    """``BlockId,Label`` csv (plain or compressed) -> dict id -> 0/1."""
    rows = _read_csv_rows(path)
    next(rows, None)  # header
    return {r[0]: (1 if r[1].strip().lower() in ("anomaly", "1", "abnormal") else 0)
            for r in rows if len(r) >= 2}


def read_hdfs_raw(log_path, labels_path, *, key=HDFS_BLOCK_KEY):
    """Raw HDFS log + block label table -> one session per block.

    Returns
    -------
    Bunch
        ``data`` (sessions of raw lines), ``target`` (0/1 per block),
        ``session_ids``, ``line_indices`` and ``lines`` (all raw lines).
    """
    lines = list(iter_lines(log_path))
    sessions, ids, indices = sessions_from_lines(lines, key=key)
    table = read_label_table(labels_path)
    target = labels_from_table(ids, table)
    return Bunch(data=sessions, target=target, session_ids=ids, line_indices=indices,
                 lines=lines)


def read_labeled_lines_windows(log_path, *, size=20, step=None):
    """BGL/Thunderbird raw log (column 1 = label) -> windows of lines, label column removed.

    A window is anomalous when it holds at least one alert line.
    """
    labeled = list(iter_lines(log_path))
    line_labels = bgl_line_labels(labeled)
    lines = strip_label_column(labeled)
    sessions, indices = windows_from_lines(lines, size=size, step=step)
    target = labels_from_line_labels(line_labels, indices)
    return Bunch(data=sessions, target=target, line_indices=indices, lines=lines,
                 line_target=line_labels)


def read_template_table(path):
    """``id,template`` csv (HDFS ``EventId,EventTemplate`` or BGL ``id,template``) -> dict.

    Keys are the ids as written in sequence files: HDFS ``E5`` is stored
    under ``"5"`` too, since DeepLog files write ``5``.
    """
    rows = _read_csv_rows(path)
    next(rows, None)
    table = {}
    for row in rows:
        if len(row) < 2:
            continue
        key, template = row[0].strip(), row[1]
        table[key] = template
        if key[:1] in "Ee" and key[1:].isdigit():
            table[key[1:]] = template
    return table


def read_id_sequences(path, templates):
    """A file of space-separated event ids, one session a line -> sessions of templates.

    Ids missing from ``templates`` become ``"<event {id}>"`` so no event is lost.
    """
    sessions = []
    for line in iter_lines(path):
        sessions.append([templates.get(tok, f"<event {tok}>") for tok in line.split()])
    return sessions


def data_home(data_home=None):
    """The folder where fetchers cache archives: ``$SKLOG_DATA`` or ``~/sklog_data``."""
    path = data_home or os.environ.get("SKLOG_DATA") or os.path.join("~", "sklog_data")
    path = os.path.expanduser(path)
    os.makedirs(path, exist_ok=True)
    return path
