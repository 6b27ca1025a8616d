"""Bundled samples (``load_*``), public archives (``fetch_*``) and format readers."""

from ._base import (
    LOGHUB_2K_SYSTEMS,
    load_bgl_sample,
    load_hdfs_sample,
    load_loghub_2k,
    loghub_license,
)
from ._evolution import evolve_sessions
from ._fetch import LOGHUB_ARCHIVES, ChecksumError, DownloadError, fetch_loghub
from ._readers import (
    data_home,
    read_hdfs_raw,
    read_id_sequences,
    read_label_table,
    read_labeled_lines_windows,
    read_template_table,
)

__all__ = [
    "LOGHUB_2K_SYSTEMS",
    "LOGHUB_ARCHIVES",
    "ChecksumError",
    "DownloadError",
    "data_home",
    "evolve_sessions",
    "fetch_loghub",
    "load_bgl_sample",
    "load_hdfs_sample",
    "load_loghub_2k",
    "loghub_license",
    "read_hdfs_raw",
    "read_id_sequences",
    "read_label_table",
    "read_labeled_lines_windows",
    "read_template_table",
]
