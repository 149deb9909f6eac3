"""Sphinx configuration for the skafa documentation."""

import sys
from pathlib import Path

import skafa

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "skafa"
author = "skafa developers"
release = version = skafa.__version__
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "cli_help",
]
autosummary_generate = True
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()
# scikit-learn generates set_*_request methods per class; their docstrings link into its own docs.
autodoc_default_options = {
    "members": True,
    "inherited-members": False,
    "exclude-members": "set_fit_request, set_score_request, set_partial_fit_request, set_transform_request",
}
autodoc_mock_imports = []
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path = ["_static"]
nitpicky = False
