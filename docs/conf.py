"""Sphinx configuration: numpydoc API reference, sphinx-gallery examples."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))
os.environ.setdefault("MPLBACKEND", "Agg")

import sklog  # noqa: E402

project = "scikit-log"
author = "the scikit-log developers"
copyright = "2026, the scikit-log developers"
release = sklog.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.doctest",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
autosummary_generate = True
numpydoc_show_class_members = False
numpydoc_validation_checks = set()
autodoc_default_options = {"members": True, "inherited-members": False}
templates_path = []
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
html_theme = "alabaster"
intersphinx_mapping = {}
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
}
# Methods inherited from scikit-learn (score, set_*_request) cross-reference
# labels of scikit-learn's own docs, which do not exist here.
suppress_warnings = ["config.cache", "ref.ref", "ref.term"]
