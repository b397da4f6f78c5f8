"""helpers.site: the static, offline book of the notebooks (no browser here; tests/test_browser.py opens it)."""

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import nbformat
import pytest

from helpers import site
from helpers.core.paths import NOTEBOOKS_DIR

NOTEBOOKS = site.notebook_paths()


class Resources(HTMLParser):
    """Every URL a page would load by itself (scripts, styles, images, frames...), and its links."""

    LOADED: ClassVar[dict] = {"script": "src", "img": "src", "iframe": "src", "source": "src", "embed": "src", "video": "src",
              "audio": "src", "object": "data", "link": "href"}

    def __init__(self):
        super().__init__()
        self.loaded, self.links, self.inline_scripts, self.in_script = [], [], [], False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in self.LOADED and attrs.get(self.LOADED[tag]):
            self.loaded.append(attrs[self.LOADED[tag]])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        self.in_script = tag == "script" and "src" not in attrs

    def handle_endtag(self, tag):
        self.in_script = False

    def handle_data(self, data):
        if self.in_script:
            self.inline_scripts.append(data)


def parse(path: Path) -> Resources:
    parser = Resources()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    out = tmp_path_factory.mktemp("book") / "site"
    pages = site.build_site(out)
    return out, pages


def test_index_lists_every_notebook(book):
    out, pages = book
    assert [p.notebook for p in pages] == NOTEBOOKS and len(NOTEBOOKS) == 5
    index = (out / "index.html").read_text(encoding="utf-8")
    links = parse(out / "index.html").links
    assert links == [f"{p.stem}.html" for p in NOTEBOOKS]
    for page in pages:
        assert (out / page.file).is_file()
        assert page.title in index and page.title in (out / page.file).read_text(encoding="utf-8")
    assert pages[0].title.startswith("What gates can and cannot do")


def test_pages_load_nothing_from_the_network(book):
    out, pages = book
    for path in [out / "index.html", *(out / p.file for p in pages)]:
        html = path.read_text(encoding="utf-8")
        parsed = parse(path)
        for url in parsed.loaded:
            assert url.startswith("data:") or not re.match(r"^[a-z][a-z0-9+.-]*:|^//", url), (path.name, url)
            if not url.startswith("data:"):
                assert (out / url.split("?")[0]).is_file(), (path.name, url)
        for script in parsed.inline_scripts:
            assert not re.search(r"import\s*\(|https?://", script), (path.name, script[:200])
        assert not re.search(r"url\(\s*['\"]?(https?:)?//", html), path.name
        assert not re.search(r"@import", html), path.name
        for word in ("require.js", "requirejs", "unpkg.com", "cdnjs", "cdn.jsdelivr", "html-manager"):
            assert word not in html, (path.name, word)


def test_pages_use_the_bundled_mathjax(book):
    out, pages = book
    assert (out / "mathjax" / "MathJax.js").is_file()
    assert (out / "mathjax" / "config" / "TeX-AMS-MML_HTMLorMML-full.js").is_file()
    assert list((out / "mathjax" / "fonts" / "HTML-CSS" / "STIX-Web" / "woff").glob("*.woff"))
    assert not (out / "mathjax" / "localization").exists()
    for page in pages:
        assert [u for u in parse(out / page.file).loaded if not u.startswith("data:")] == [site.MATHJAX_URL]
    gates = (out / "01_gates.html").read_text(encoding="utf-8")
    assert r"\begin{aligned}" in gates and r"$\tilde c_t$" in gates, "the TeX stays for MathJax to typeset"


def test_figures_are_embedded(book):
    out, pages = book
    for page in pages:
        html = (out / page.file).read_text(encoding="utf-8")
        assert html.count('src="data:image/png;base64,') >= 3, page.file


def test_widgets_become_a_note_and_test_markers_go(book):
    out, pages = book
    for page in pages:
        html = (out / page.file).read_text(encoding="utf-8")
        assert "NBVAL_" not in html, page.file
        assert "widget-view+json" not in html and "widget-state+json" not in html, page.file
        nb = nbformat.read(page.notebook, as_version=4)
        widget_cells = [c for c in nb.cells if "widget" in c.metadata.get("tags", [])]
        assert html.count('<p class="site-widget-note">') == len(widget_cells), page.file


def _notebook(cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    return nb


def test_prepare():
    view = {"model_id": "abc", "version_major": 2, "version_minor": 0}
    hint = {"model_id": "", "version_major": 2, "version_minor": 0}
    nb = _notebook([
        nbformat.v4.new_markdown_cell("# Title *one*\n\nSee [02](02_classification.ipynb#Setup) and "
                                      "[the docs](https://example.org/x.ipynb)."),
        nbformat.v4.new_code_cell("# NBVAL_IGNORE_OUTPUT\nexplorer()", outputs=[
            nbformat.v4.new_output("display_data", data={"image/png": "iVBO", "text/plain": "img"}),
            nbformat.v4.new_output("execute_result", execution_count=1, data={
                "application/vnd.jupyter.widget-view+json": view, "text/plain": "interactive(children=(...)"}),
        ]),
        nbformat.v4.new_code_cell("w", outputs=[nbformat.v4.new_output("display_data", data={
            "application/vnd.jupyter.widget-view+json": view, "text/plain": "HBox()"})]),
        # What helpers.analysis.widgets.StaticView displays: the widget with its image, then the hint.
        nbformat.v4.new_code_cell("with_static_view(explorer)", outputs=[
            nbformat.v4.new_output("display_data", data={
                "application/vnd.jupyter.widget-view+json": view, "image/png": "iVBQ", "text/plain": "[image]"}),
            nbformat.v4.new_output("display_data", data={
                "application/vnd.jupyter.widget-view+json": hint, "text/plain": "Static image...: run this cell"}),
        ]),
    ])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    prepared = site.prepare(nb)
    assert "widgets" not in prepared.metadata and "widgets" in nb.metadata, "a copy is changed, not nb"
    assert "(02_classification.html#Setup)" in prepared.cells[0].source
    assert "(https://example.org/x.ipynb)" in prepared.cells[0].source
    assert prepared.cells[1].source == "explorer()"
    image, note = prepared.cells[1].outputs
    assert image.data["image/png"] == "iVBO"
    assert list(note.data) == ["text/html"] and "the image shows" in note.data["text/html"]
    assert "the image shows" not in prepared.cells[2].outputs[0].data["text/html"]
    image, note = prepared.cells[3].outputs
    assert dict(image.data) == {"image/png": "iVBQ"}, "the widget's image stays, alone"
    assert list(note.data) == ["text/html"] and "the image shows" in note.data["text/html"]
    assert "python -m helpers.lab" in note.data["text/html"]
    assert site.notebook_title(nb, "x") == "Title one"
    assert site.notebook_title(_notebook([]), "fallback") == "fallback"


def test_long_code_lines_wrap(book):
    """JupyterLab's editor box hides what overflows it: the book wraps code lines instead (the browser test
    checks that nothing is cut)."""
    out, pages = book
    html = (out / pages[0].file).read_text(encoding="utf-8")
    assert re.search(r"\.jp-InputArea-editor pre \{[^}]*white-space: pre-wrap", html)


def _tiny(folder: Path) -> list[Path]:
    paths = []
    for name, title in (("01_a", "First"), ("02_b", "Second")):
        nb = _notebook([nbformat.v4.new_markdown_cell(f"# {title}\n\n$x^2$"),
                        nbformat.v4.new_code_cell("1", outputs=[nbformat.v4.new_output(
                            "execute_result", data={"text/plain": "1"}, execution_count=1)])])
        paths.append(folder / f"{name}.ipynb")
        nbformat.write(nb, paths[-1])
    return paths


def test_rebuild_replaces_the_book_and_leaves_no_temporary_folder(tmp_path):
    notebooks = _tiny(tmp_path)
    out = tmp_path / "book"
    site.build_site(out, notebooks)
    (out / "stale.html").write_text("old")
    pages = site.build_site(out, notebooks[:1])
    assert [p.title for p in pages] == ["First"]
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == [".rnn-mnist-site", "01_a.html", "index.html"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["01_a.ipynb", "02_b.ipynb", "book"]
    nav = (out / "01_a.html").read_text(encoding="utf-8")
    assert '<a href="index.html">Contents</a>' in nav


def test_a_failed_build_keeps_the_old_book(tmp_path, monkeypatch):
    notebooks = _tiny(tmp_path)
    out = tmp_path / "book"
    site.build_site(out, notebooks)
    before = (out / "01_a.html").read_text(encoding="utf-8")

    def broken(dest):
        raise OSError("disk full")

    monkeypatch.setattr(site, "copy_mathjax", broken)
    with pytest.raises(OSError, match="disk full"):
        site.build_site(out, notebooks)
    assert (out / "01_a.html").read_text(encoding="utf-8") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["01_a.ipynb", "02_b.ipynb", "book"]


def test_never_replaces_a_folder_it_did_not_build(tmp_path, capsys):
    notebooks = _tiny(tmp_path)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        site.build_site(out, notebooks)
    assert site.main(["--out", str(out), *map(str, notebooks)]) == 2
    assert "not a book built by helpers.site" in capsys.readouterr().err
    assert (out / "precious.txt").read_text() == "keep me"
    assert sorted(p.name for p in out.iterdir()) == ["precious.txt"]


def test_command_line(tmp_path, capsys):
    notebooks = _tiny(tmp_path)
    out = tmp_path / "empty"
    out.mkdir()  # an empty folder may be used
    assert site.main(["--out", str(out), *map(str, notebooks)]) == 0
    printed = capsys.readouterr().out
    assert "2 pages" in printed and (out / "index.html").as_uri() in printed
    assert (out / "02_b.html").is_file()


def test_default_notebooks_are_the_numbered_ones():
    assert NOTEBOOKS == sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    assert all(re.match(r"\d\d_", p.name) for p in NOTEBOOKS)
