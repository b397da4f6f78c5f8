"""Every printed line of the committed notebooks fits in a reader's window (at most MAX_WIDTH characters).

Wider lines wrap or scroll sideways in JupyterLab, on GitHub and in the static book, which breaks tables.
Checked: stream outputs (print) and the text/plain of results shown as text (a figure's or a widget's
text/plain is never seen, so it is not checked); cells marked ``NBVAL_IGNORE_OUTPUT`` are left out.
"""

import re

import nbformat
import pytest

from helpers.core.paths import NOTEBOOKS_DIR

MAX_WIDTH = 110
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
#: Outputs with one of these are not shown as their text/plain.
RICHER = ("image/", "text/html", "text/markdown", "text/latex", "application/vnd.jupyter.widget-view+json")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def shown_text(output) -> str:
    """The text a reader sees for ``output`` ("" if it is not shown as text)."""
    if output.get("output_type") == "stream":
        return output.get("text", "")
    data = output.get("data", {})
    if "text/plain" in data and not any(mime.startswith(RICHER) for mime in data):
        return data["text/plain"]
    return ""


def wide_lines(nb, limit: int = MAX_WIDTH) -> list[str]:
    """``"cell N, line M: W characters: <start of the line>"`` for each shown line wider than ``limit``."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "NBVAL_IGNORE_OUTPUT" in cell.source:
            continue
        for output in cell.get("outputs", []):
            for number, line in enumerate(shown_text(output).splitlines(), 1):
                width = len(ANSI.sub("", line).expandtabs())
                if width > limit:
                    found.append(f"cell {index}, line {number}: {width} characters: {line[:60]!r}...")
    return found


def test_wide_lines_are_found():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("print(table)", outputs=[
            nbformat.v4.new_output("stream", text="short\n" + "x" * 111 + "\n"),
            nbformat.v4.new_output("execute_result", data={"text/plain": "y" * 120}, execution_count=1),
            nbformat.v4.new_output("display_data", data={"text/plain": "z" * 200, "image/png": "iVBO"}),
        ]),
        nbformat.v4.new_code_cell("# NBVAL_IGNORE_OUTPUT\nprint(t)", outputs=[
            nbformat.v4.new_output("stream", text="w" * 300)]),
        nbformat.v4.new_markdown_cell("m" * 300),
    ]
    found = wide_lines(nb)
    assert [f.split(":")[0] for f in found] == ["cell 0, line 2", "cell 0, line 1"]
    assert "111 characters" in found[0] and "120 characters" in found[1]
    assert wide_lines(nb, limit=300) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_printed_lines_fit(path):
    found = wide_lines(nbformat.read(path, as_version=4))
    assert not found, f"{path.name}: {len(found)} line(s) wider than {MAX_WIDTH} characters:\n" + "\n".join(found)
