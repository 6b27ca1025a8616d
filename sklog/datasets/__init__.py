"""Bundled samples (``load_*``), public archives (``fetch_*``) and format readers."""

from ._readers import (
    data_home,
    read_hdfs_raw,
    read_id_sequences,
    read_label_table,
    read_labeled_lines_windows,
    read_template_table,
)

__all__ = [
    "data_home",
    "read_hdfs_raw",
    "read_id_sequences",
    "read_label_table",
    "read_labeled_lines_windows",
    "read_template_table",
]
