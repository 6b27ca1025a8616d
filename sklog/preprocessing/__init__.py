"""Cutting logs into sessions and windows, reading log files, template mining."""

from ._io import iter_lines, open_log, read_lines
from ._sessions import (
    HDFS_BLOCK_KEY,
    bgl_line_labels,
    labels_from_line_labels,
    labels_from_table,
    sessions_from_lines,
    strip_label_column,
    time_windows_from_lines,
    windows_from_lines,
)

__all__ = [
    "HDFS_BLOCK_KEY",
    "bgl_line_labels",
    "iter_lines",
    "labels_from_line_labels",
    "labels_from_table",
    "open_log",
    "read_lines",
    "sessions_from_lines",
    "strip_label_column",
    "time_windows_from_lines",
    "windows_from_lines",
]
