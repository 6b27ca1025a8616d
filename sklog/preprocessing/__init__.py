"""Cutting logs into sessions and windows (also streamed), reading log files, template mining."""

from ._drain import (
    DEFAULT_MASKING,
    UNKNOWN_TEMPLATE,
    DrainTemplater,
    log_format_regex,
    loghub_presets,
)
from ._io import compression, iter_lines, looks_binary, open_log, read_lines
from ._sessions import (
    DEFAULT_MAX_GAP,
    DEFAULT_MAX_OPEN,
    HDFS_BLOCK_KEY,
    Session,
    SessionBatch,
    bgl_line_labels,
    iter_session_batches,
    iter_sessions,
    labels_from_line_labels,
    labels_from_table,
    sessions_from_lines,
    strip_label_column,
    time_windows_from_lines,
    windows_from_lines,
)

__all__ = [
    "DEFAULT_MASKING",
    "DEFAULT_MAX_GAP",
    "DEFAULT_MAX_OPEN",
    "DrainTemplater",
    "HDFS_BLOCK_KEY",
    "Session",
    "SessionBatch",
    "UNKNOWN_TEMPLATE",
    "bgl_line_labels",
    "compression",
    "iter_lines",
    "iter_session_batches",
    "iter_sessions",
    "labels_from_line_labels",
    "labels_from_table",
    "log_format_regex",
    "loghub_presets",
    "looks_binary",
    "open_log",
    "read_lines",
    "sessions_from_lines",
    "strip_label_column",
    "time_windows_from_lines",
    "windows_from_lines",
]
