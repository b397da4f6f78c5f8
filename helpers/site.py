"""A static, offline HTML book of the executed notebooks: ``python -m helpers.site [--out DIR]``.

``DIR`` (default ``site/``) gets ``index.html``, one page per notebook and a local MathJax; it opens from disk
without any network. Details: docs/internals.md.
"""

from __future__ import annotations

import argparse
import copy
import html
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from helpers.core.paths import NOTEBOOKS_DIR, REPO_ROOT

#: The folder the book is written to by default.
DEFAULT_OUT = REPO_ROOT / "site"
#: The book's title (its index page).
BOOK_TITLE = "Recurrent networks reading binarized MNIST, pixel by pixel"
#: A file that marks a folder as a book built here: only such a folder (or an empty one) is ever replaced.
MARKER = ".rnn-mnist-site"
#: Lines that only steer the tests (nbval); left out of the code shown in the book.
TEST_MARKERS = re.compile(r"^\s*#\s*NBVAL_[A-Z_]+\s*$")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = (
    '<p class="site-widget-note">An interactive explorer stands here in the notebook{image}. It needs a running '
    "Python kernel: open the notebooks in JupyterLab (<code>python -m helpers.lab</code>) and run this cell.</p>"
)
#: MathJax's folder in the book, and how each page loads it.
MATHJAX_DIR = "mathjax"
MATHJAX_URL = f"{MATHJAX_DIR}/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"

# nbconvert's own MathJax settings (templates/base/mathjax.html.j2), plus: the web fonts that
# jupyter-server-mathjax ships (STIX-Web; never look for fonts installed locally, so every machine draws the
# same), no renderer switch in the menu (only HTML-CSS is copied), and no page-wide "Loading" messages.
_MATHJAX = """
<script type="text/x-mathjax-config">
MathJax.Hub.Config({
  TeX: { equationNumbers: { autoNumber: "AMS", useLabelIds: true } },
  tex2jax: {
    inlineMath: [ ['$','$'], ["\\\\(","\\\\)"] ],
    displayMath: [ ['$$','$$'], ["\\\\[","\\\\]"] ],
    processEscapes: true,
    processEnvironments: true
  },
  displayAlign: "center",
  messageStyle: "none",
  "HTML-CSS": {
    availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null,
    linebreaks: { automatic: true },
    // MathJax tells when its web fonts have loaded by comparing them with a font that fails to load,
    // declared as url('about:blank'); a local() font that does not exist fails the same way, with no request.
    styles: { "@font-face": { "font-family": "MathJax_Blank", src: "local('MathJax_Blank')" } }
  },
  menuSettings: { renderer: "HTML-CSS", locale: "en" },
  MathMenu: { showRenderer: false, showLocale: false }
});
</script>
<script type="text/javascript" src="{url}"></script>
"""

_TEMPLATE = r"""
{%- extends 'index.html.j2' -%}
{#- Nothing is loaded from the network: MathJax is local, widgets are static. -#}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{{ resources.site_mathjax }}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}
<style type="text/css">
{{ resources.site_css }}
</style>
{%- endblock html_head_css -%}
{%- block body_header -%}
{{ super() }}
{{ resources.site_nav }}
{%- endblock body_header -%}
{%- block body_footer -%}
{{ resources.site_nav }}
{{ super() }}
{%- endblock body_footer -%}
"""

_CSS = """
main { max-width: 1100px; margin: 0 auto; }
nav.site-nav { display: flex; gap: 1.5em; justify-content: space-between; max-width: 1100px;
  margin: 0.5em auto; padding: 0.4em var(--jp-notebook-padding, 10px);
  font-family: var(--jp-ui-font-family, sans-serif); font-size: 0.95em; }
nav.site-nav a { text-decoration: none; }
.site-widget-note { font-style: italic; color: var(--jp-content-font-color2, #555); }
.jp-RenderedText pre { overflow-x: auto; }
/* Code lines longer than the page wrap (JupyterLab's editor box hides what overflows it). */
.jp-InputArea-editor { overflow-x: auto; }
.jp-InputArea-editor pre { white-space: pre-wrap; overflow-wrap: anywhere; }
/* The hidden MathML copy that MathJax adds for screen readers would otherwise ask for MathJax's TeX web fonts,
   which jupyter-server-mathjax does not ship (it draws with STIX-Web). */
.MJX_Assistive_MathML, .MJX_Assistive_MathML * { font-family: serif !important; }
"""

_INDEX_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; line-height: 1.5;
  color: #1f1f1f; max-width: 760px; margin: 2.5em auto; padding: 0 1em; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
p.lead { color: #555; margin-top: 0; }
ol.notebooks { padding-left: 0; list-style: none; }
ol.notebooks li { margin: 0.6em 0; }
ol.notebooks .number { display: inline-block; min-width: 2.2em; color: #777; font-variant-numeric: tabular-nums; }
a { color: #1565c0; text-decoration: none; }
a:hover { text-decoration: underline; }
footer { margin-top: 2.5em; color: #777; font-size: 0.9em; }
"""


@dataclass
class Page:
    """One notebook's page in the book."""

    notebook: Path
    file: str
    title: str


# --- maths -----------------------------------------------------------------------------------------------


def mathjax_source() -> Path:
    """The folder of MathJax 2.7 that ``jupyter-server-mathjax`` installs (the one Jupyter's tools serve)."""
    try:
        import jupyter_server_mathjax
    except ImportError as error:  # pragma: no cover - it is in requirements.txt
        raise ImportError("the book needs MathJax: pip install jupyter-server-mathjax") from error
    return Path(jupyter_server_mathjax.__file__).parent / "static"


def copy_mathjax(dest: Path) -> None:
    """Copy the parts of MathJax the book loads into ``dest`` (about 3 MB of its 10 MB).

    Left out: the translations (the book is in English), the accessibility extensions and the SVG
    renderer (not loaded; the menu that would switch to them is hidden).
    """
    source = mathjax_source()
    skipped = {source / "localization", source / "extensions" / "a11y", source / "jax" / "output" / "SVG"}
    shutil.copytree(source, dest, ignore=lambda folder, names: [n for n in names if Path(folder) / n in skipped])


def _exporter():
    """nbconvert's lab HTML exporter with the book's template."""
    from jinja2 import DictLoader
    from nbconvert.exporters import HTMLExporter

    return HTMLExporter(
        template_name="lab",
        template_file="rnn_mnist_site.html.j2",
        extra_loaders=[DictLoader({"rnn_mnist_site.html.j2": _TEMPLATE})],
        embed_images=True,
    )


# --- notebooks -------------------------------------------------------------------------------------------


def notebook_paths(folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The book's notebooks, in order: ``NN_name.ipynb`` in ``folder``."""
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


def notebook_title(nb, fallback: str) -> str:
    """The text of the notebook's first level-1 heading (markdown stripped), else ``fallback``."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("# "):
                text = re.sub(r"[*_`]", "", line[2:]).strip()
                return text or fallback
    return fallback


def prepare(nb):
    """A copy of ``nb`` as the book shows it.

    Test markers (``# NBVAL_IGNORE_OUTPUT`` lines) are dropped from code, links to sibling notebooks point
    to their pages, and widget outputs (which need a kernel) become their image, if they have one, and one
    note per cell; the saved widget state goes.
    """
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = "\n".join(line for line in cell.source.splitlines() if not TEST_MARKERS.match(line))
            cell.outputs = _book_outputs(cell.get("outputs", []))
        elif cell.cell_type == "markdown":
            cell.source = re.sub(r"\]\((?!\w+:)([^)\s]*?)\.ipynb(#[^)\s]*)?\)", r"](\1.html\2)", cell.source)
    return nb


def _book_outputs(outputs: list) -> list:
    """A cell's outputs with each widget view replaced: by its image (the explorer's default state) if it has
    one, and by a single note that says how to make the explorer live (the widget's text is its repr, or a
    hint for JupyterLab, of no use in the book)."""
    from nbformat import from_dict

    kept, noted = [], False
    has_image = any(mime.startswith("image/") for output in outputs for mime in output.get("data") or {})
    for output in outputs:
        data = output.get("data") or {}
        if WIDGET_VIEW not in data:
            kept.append(output)
            continue
        images = {mime: value for mime, value in data.items() if mime.startswith("image/")}
        if images:
            kept.append(from_dict({**output, "data": images, "metadata": {}}))
        if not noted:
            note = WIDGET_NOTE.format(image=" (the image shows its default state)" if has_image else "")
            kept.append(from_dict({**output, "data": {"text/html": note}, "metadata": {}}))
            noted = True
    return kept


def _nav(pages: list[Page], index: int) -> str:
    """Links to the previous page, the contents and the next page."""
    def link(i: int, rel: str) -> str:
        if not 0 <= i < len(pages):
            return "<span></span>"
        title = html.escape(pages[i].title)
        text = f"&larr; {title}" if rel == "prev" else f"{title} &rarr;"
        return f'<a href="{pages[i].file}" rel="{rel}">{text}</a>'

    return (f'<nav class="site-nav">{link(index - 1, "prev")}<a href="index.html">Contents</a>'
            f'{link(index + 1, "next")}</nav>')


def render_index(pages: list[Page], title: str = BOOK_TITLE) -> str:
    """The book's index page: its title and one line per notebook, linked to its page."""
    items = "\n".join(
        f'  <li><span class="number">{html.escape(page.notebook.stem[:2])}</span>'
        f'<a href="{page.file}">{html.escape(page.title)}</a></li>'
        for page in pages
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{html.escape(title)}</title>
<style type="text/css">{_INDEX_CSS}</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<p class="lead">The project's notebooks, executed, with every table, figure and formula. To run the code and use
the interactive explorers, open the notebooks in JupyterLab.</p>
<ol class="notebooks">
{items}
</ol>
<footer>Built from the committed notebooks by <code>python -m helpers.site</code>.</footer>
</body>
</html>
"""


# --- the book ----------------------------------------------------------------------------------------------


def _check_replaceable(out: Path) -> None:
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        raise FileExistsError(f"{out} exists and is not a book built by helpers.site: not replacing it")


def _replace(tmp: Path, out: Path) -> None:
    """Put the finished book ``tmp`` at ``out`` (each rename is atomic; the old book is removed after)."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}-old-", suffix=".tmp", dir=out.parent))
        old.rmdir()
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def build_site(out: str | Path = DEFAULT_OUT, notebooks: list[Path] | None = None,
               title: str = BOOK_TITLE) -> list[Page]:
    """Build the book of ``notebooks`` (default: every ``notebooks/NN_*.ipynb``) into ``out``.

    Returns the pages written.
    """
    import nbformat

    out = Path(out).resolve()
    notebooks = [Path(p) for p in (notebooks if notebooks is not None else notebook_paths())]
    if not notebooks:
        raise FileNotFoundError("no notebook to build a book from")
    _check_replaceable(out)
    out.parent.mkdir(parents=True, exist_ok=True)

    nbs = [nbformat.read(path, as_version=4) for path in notebooks]
    pages = [Page(path, f"{path.stem}.html", notebook_title(nb, path.stem)) for path, nb in zip(notebooks, nbs)]
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", suffix=".tmp", dir=out.parent))
    try:
        for i, (page, nb) in enumerate(zip(pages, nbs)):
            exporter = _exporter()
            resources = {
                "metadata": {"name": page.title, "path": str(page.notebook.parent)},
                "site_nav": _nav(pages, i),
                "site_css": _CSS,
                "site_mathjax": _MATHJAX.replace("{url}", MATHJAX_URL),
            }
            body, _ = exporter.from_notebook_node(prepare(nb), resources=resources)
            (tmp / page.file).write_text(body, encoding="utf-8")
        copy_mathjax(tmp / MATHJAX_DIR)
        (tmp / "index.html").write_text(render_index(pages, title), encoding="utf-8")
        (tmp / MARKER).write_text("Built by `python -m helpers.site`; the whole folder is replaced on rebuild.\n")
        tmp.chmod(0o755)  # mkdtemp makes it private; a book is for reading
        _check_replaceable(out)
        _replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.site", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder of the book (default: site/)")
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to include (default: all)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        pages = build_site(args.out, args.notebooks or None)
    except (FileExistsError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    index = Path(args.out).resolve() / "index.html"
    print(f"{len(pages)} pages in {time.perf_counter() - start:.1f} s; open {index.as_uri()}")
    return 0


if __name__ == "__main__":
    from helpers.core import cli

    sys.exit(cli.guard(main, interrupted="The book is replaced whole or not at all: run the same command again."))
