"""Tiny helpers for the notebook generator scripts in this folder.

Each ``NN_name.py`` script here describes one notebook as a list of markdown and code cells and writes
``notebooks/NN_name.ipynb`` unexecuted; ``python -m helpers.regenerate --only NN`` then executes it.
Edit the script (not the JSON) to change a notebook's text or code, and re-run both.
"""

from pathlib import Path
from textwrap import dedent

import nbformat

NOTEBOOKS = Path(__file__).resolve().parent.parent

SETUP = '''\
%matplotlib inline
import os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # keep TensorFlow's C++ log noise out of the notebook
sys.path.insert(0, os.path.abspath(".."))          # the repository root, where helpers/ lives
from helpers.paths import import_tensorflow_quietly
tf = import_tensorflow_quietly()                   # TensorFlow, without its start-up log lines'''


def md(text: str):
    return nbformat.v4.new_markdown_cell(dedent(text).strip("\n"))


def code(source: str, tags=()):
    cell = nbformat.v4.new_code_cell(dedent(source).strip("\n"))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def params(source: str):
    return code(source, tags=["parameters"])


def write(name: str, cells) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = list(cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    path = NOTEBOOKS / f"{name}.ipynb"
    nbformat.write(notebook, path)
    return path
