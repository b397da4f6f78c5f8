"""The committed notebooks are in the exact form JupyterLab 4 saves, so opening and saving one changes no byte.

JupyterLab's frontend holds the notebook as JavaScript objects (so ``30.0`` comes back as ``30``) and, once the
kernel has started, sets ``kernelspec`` from the kernel's spec and ``language_info`` from the kernel's info
reply; jupyter_server's contents manager then writes the file. These steps are reproduced here in-process
(FileContentsManager.get, the frontend's changes, FileContentsManager.save) on a copy of each notebook.
(Checked once against JupyterLab 4.6.6 itself, in headless Chromium: the same bytes.)
"""

import json
import shutil

import nbformat
import pytest
from jupyter_server.services.contents.filemanager import FileContentsManager  # installed with jupyterlab
from nbformat.sign import NotebookNotary

from helpers import notebook_sources as ns
from helpers.core.paths import NOTEBOOKS_DIR

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))


def kernel_metadata(version: str) -> dict:
    """What JupyterLab writes into the metadata when the python3 kernel starts (its spec, its language_info)."""
    from ipykernel.ipkernel import IPythonKernel
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    return {"kernelspec": {"name": "python3", "display_name": spec.display_name, "language": spec.language},
            # the Python version is the executing kernel's, which ns.jupyterlab_form keeps
            "language_info": {**IPythonKernel.language_info, "version": version}}


def through_javascript(content: dict) -> dict:
    """``content`` after ``JSON.parse`` and ``JSON.stringify`` in a browser: every number becomes a double."""

    def number(text: str):
        value = float(text)
        return int(value) if value.is_integer() and abs(value) < 1e21 else value

    return json.loads(json.dumps(content), parse_float=number, parse_int=number)


def saved_by_jupyterlab(path, folder) -> bytes:
    """The bytes of ``path`` after opening it in JupyterLab, letting its kernel start, and saving it."""
    shutil.copy(path, folder / path.name)
    manager = FileContentsManager(root_dir=str(folder))
    manager.notary = NotebookNotary(db_file=":memory:")  # no signature database in the user's home
    model = manager.get(path.name, content=True, type="notebook")
    model["content"] = through_javascript(model["content"])
    metadata = model["content"]["metadata"]
    metadata.update(kernel_metadata(metadata.get("language_info", {}).get("version") or ns.language_info()["version"]))
    manager.save(model, path.name)
    return (folder / path.name).read_bytes()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_saving_a_notebook_in_jupyterlab_changes_nothing(notebook, tmp_path):
    assert saved_by_jupyterlab(notebook, tmp_path) == notebook.read_bytes(), (
        f"{notebook.name} is not in JupyterLab's form: python -m helpers.notebook_sources reformat {notebook.stem[:2]}")


def test_constants_are_what_ipykernel_reports():
    from ipykernel.ipkernel import IPythonKernel
    from ipykernel.kernelspec import get_kernel_dict

    native = get_kernel_dict()
    assert ns.KERNELSPEC == {"name": "python3", "display_name": native["display_name"], "language": native["language"]}
    assert ns.language_info() == IPythonKernel.language_info


def executed_sample() -> nbformat.NotebookNode:
    """A small notebook as papermill leaves it: old kernelspec, outputs, an id-less cell, no final newline."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
    nb.metadata["papermill"] = {"parameters": {}, "duration": 2.0}
    nb.metadata["widgets"] = {"state": {"slider": {"max": 30.0, "min": -30.0, "step": 0.5}}}
    code = nbformat.v4.new_code_cell("print('a\\nb')\n1", execution_count=1, metadata={"tags": ["parameters"]})
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="a\nb\n"),
                    nbformat.v4.new_output("stream", name="stdout", text="c\n"),
                    nbformat.v4.new_output("execute_result", {"text/plain": "1", "image/png": "iVBORw0KGgo=\n"},
                                           execution_count=1)]
    nb.cells = [nbformat.v4.new_markdown_cell("# Title\n\nü and $x$"), code]
    del nb.cells[0]["id"]
    return nb


def test_write_notebook_writes_what_jupyterlab_saves(tmp_path):
    path = ns.write_notebook(executed_sample(), tmp_path / "sample.ipynb")
    written = path.read_bytes()
    assert written.endswith(b"}\n")
    (tmp_path / "saved").mkdir()
    assert saved_by_jupyterlab(path, tmp_path / "saved") == written
    assert ns.write_notebook(nbformat.read(path, as_version=4), path).read_bytes() == written  # a fixed point


def test_write_notebook_changes_metadata_only(tmp_path):
    original = executed_sample()
    original.cells[0]["id"] = "given-id"
    nbformat.write(original, tmp_path / "before.ipynb")
    ns.write_notebook(nbformat.read(tmp_path / "before.ipynb", as_version=4), tmp_path / "after.ipynb")
    before, after = (json.loads((tmp_path / name).read_text()) for name in ("before.ipynb", "after.ipynb"))
    assert after["cells"] == before["cells"]  # sources, ids, metadata, outputs and execution counts
    assert after["metadata"]["papermill"] == before["metadata"]["papermill"] == {"parameters": {}, "duration": 2}
    assert after["metadata"]["widgets"] == {"state": {"slider": {"max": 30, "min": -30, "step": 0.5}}}
    assert after["metadata"]["kernelspec"] == ns.KERNELSPEC
    assert after["metadata"]["language_info"] == ns.language_info("3.11.7")


def test_javascript_numbers():
    value = {"a": 30.0, "b": [0.5, 1e-05, -0.0, 2.0**60, 2**60 + 1, 1e22, True, None, "30.0"], "c": 3}
    assert ns.javascript_numbers(value) == through_javascript(value)
    assert json.dumps(ns.javascript_numbers(value)) == (
        '{"a": 30, "b": [0.5, 1e-05, 0, 1152921504606846976, 1152921504606846976, 1e+22, true, null, "30.0"], "c": 3}')


def test_jupyterlab_form_adds_missing_ids_and_minor_version():
    nb = executed_sample()
    nb.nbformat_minor = 4
    form = ns.jupyterlab_form(nb)
    assert form.nbformat_minor == 5 and all(c.get("id") for c in form.cells)
    assert "id" not in nb.cells[0] and nb.nbformat_minor == 4  # the argument is left alone
