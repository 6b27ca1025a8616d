"""Benchmarks: ``python -m sklog.benchmarks`` or ``sklog bench``.

Methods register (dataset, protocol, method) rows with :func:`register` in a
module of :mod:`sklog.benchmarks.cells`; the harness builds the datasets and
splits (:mod:`sklog.benchmarks._data`), enforces the fitting rule, and writes
``results.json`` and ``results.md``.
"""

from ._data import PROTOCOLS, DatasetCache, Split, default_data_dir, make_split
from ._harness import (
    load_cells,
    main,
    markdown_table,
    run,
    run_cell,
    select_cells,
    summarize,
    training_data,
    write_results,
)
from ._registry import CELLS, BenchmarkCell, register

__all__ = [
    "CELLS",
    "PROTOCOLS",
    "BenchmarkCell",
    "DatasetCache",
    "Split",
    "default_data_dir",
    "load_cells",
    "main",
    "make_split",
    "markdown_table",
    "register",
    "run",
    "run_cell",
    "select_cells",
    "summarize",
    "training_data",
    "write_results",
]
