"""Real-browser checks: Chromium, driven by Playwright, in JupyterLab and in the static book.

- JupyterLab, opened the README's way (``python -m helpers.lab``) in a git repository made from the project's
  files, with autosave ON at a short interval: for each notebook with an explorer (a cell tagged ``widget``),
  before anything runs the explorer shows its static image and the one-line hint, no widget repr text;
  Run > Run All Cells (longer than the autosave interval, so autosave writes mid-run) runs every cell with
  no error output and no browser console error; the explorer then shows exactly one figure, its controls
  and their values unclipped, and moving a control redraws it; the tab is closed with Discard or Save.
  Afterwards ``git status`` of that repository is clean: no tracked notebook or figure changed.
- The static book (``python -m helpers.site``), opened from disk: every page loads with no failed request and
  no request to anything but a file, its images decode, its maths is typeset by the bundled MathJax, and
  every code line can be read whole (wrapped, or in a box that scrolls).

Needs Chromium (Debian: ``apt-get install chromium``) and Playwright for Python (``pip install -r
requirements-ci.txt``; no browser download: it drives the system Chromium, or ``$CHROMIUM``). Without them
the tests are skipped, unless ``REQUIRE_BROWSER=1`` (as in ``.ci/run``), which turns the skip into a failure.
Run them alone with ``python -m pytest tests/test_browser.py -p no:nbval``; the JupyterLab part runs four
notebooks and takes a few minutes. ``BROWSER_NOTEBOOKS_DIR=DIR`` tests the notebooks of ``DIR`` (e.g. a
``helpers.regenerate --output-dir``) instead of the committed ones.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

from helpers import site
from helpers.analysis.widgets import HINT_TEXT
from helpers.core.paths import NOTEBOOKS_DIR, REPO_ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REQUIRE = os.environ.get("REQUIRE_BROWSER") == "1"
NOTEBOOKS = site.notebook_paths(Path(os.environ.get("BROWSER_NOTEBOOKS_DIR") or NOTEBOOKS_DIR))


def widget_cell(path: Path) -> int | None:
    """The index of the notebook's explorer cell (the cell tagged ``widget``), or None."""
    cells = nbformat.read(path, as_version=4).cells
    return next((i for i, cell in enumerate(cells) if "widget" in cell.metadata.get("tags", [])), None)


#: The notebooks with an explorer.
WIDGET_NOTEBOOKS = [path.name for path in NOTEBOOKS if widget_cell(path) is not None]
#: JupyterLab's autosave interval in the test (seconds; its default is 120): shorter than every Run All.
AUTOSAVE_S = 10
#: How each notebook's tab is closed after its run (a dirty notebook asks: Discard, or Save).
CLOSE_WITH = {name: ("Discard" if i % 2 == 0 else "Save") for i, name in enumerate(reversed(WIDGET_NOTEBOOKS))}
#: Seconds allowed for one notebook's Run All (they take 30-90 s on 2 cores).
RUN_TIMEOUT_S = float(os.environ.get("BROWSER_RUN_TIMEOUT_S", "900"))
#: Seconds allowed for an explorer to redraw after a control moved.
REDRAW_TIMEOUT_S = 180


def _unavailable(reason: str):
    if REQUIRE:
        pytest.fail(f"REQUIRE_BROWSER=1, but {reason}", pytrace=False)
    pytest.skip(reason)


def chromium_executable() -> str | None:
    """The system Chromium: ``$CHROMIUM``, else the first of the usual names on the PATH."""
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install -r requirements-ci.txt)")
    executable = chromium_executable()
    if executable is None:
        _unavailable("no Chromium on the PATH (apt-get install chromium, or set CHROMIUM)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable,
                                              args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            yield chromium
        finally:
            chromium.close()


class PageWatch:
    """A new page in its own context, with what it reports: console errors, page errors, failed requests
    and every request's URL."""

    def __init__(self, browser, **context_options):
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000}, **context_options)
        self.page = self.context.new_page()
        self.console_errors, self.page_errors, self.failed, self.requests = [], [], [], []
        self.page.on("console", lambda m: m.type == "error" and self.console_errors.append(
            f"{m.text} ({m.location.get('url', '')}:{m.location.get('lineNumber', '')})"))
        self.page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        self.page.on("requestfailed", lambda r: self.failed.append(f"{r.url[:200]}: {r.failure}"))
        self.page.on("request", lambda r: self.requests.append(r.url))

    def problems(self) -> list[str]:
        return ([f"console error: {e}" for e in self.console_errors] + [f"page error: {e}" for e in self.page_errors]
                + [f"failed request: {e}" for e in self.failed])

    def close(self):
        self.context.close()


@pytest.fixture
def watch(browser):
    opened = []

    def open_page(**context_options) -> PageWatch:
        opened.append(PageWatch(browser, **context_options))
        return opened[-1]

    yield open_page
    for page_watch in opened:
        page_watch.close()


# --- JupyterLab ------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (the kernels JupyterLab started; they run in their own sessions)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _write_settings(folder: Path) -> None:
    """JupyterLab settings for a test: every cell in the DOM, autosave ON every ``AUTOSAVE_S`` seconds (the
    product must not depend on it being off), no news or update checks (no request leaves the machine)."""
    settings = {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": True,
                                                                        "autosaveInterval": AUTOSAVE_S},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                            "checkForUpdates": False},
    }
    for name, values in settings.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` (no user configuration needed) and return its output."""
    command = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", *args]
    return subprocess.run(command, cwd=repo, check=True, capture_output=True, text=True).stdout


def make_checkout(dest: Path) -> Path:
    """A git repository holding, committed, what the notebooks need: ``helpers/``, ``data/``, ``figures/``,
    the notebooks and ``.gitignore`` (``data/mnist.npz`` is copied too, ignored as in the project)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "in_progress")
    for folder in ("helpers", "data", "figures"):
        shutil.copytree(REPO_ROOT / folder, dest / folder, ignore=ignore)
    (dest / "notebooks").mkdir()
    for path in NOTEBOOKS:
        shutil.copy2(path, dest / "notebooks" / path.name)
    shutil.copy2(REPO_ROOT / ".gitignore", dest / ".gitignore")
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "as committed")
    return dest


class Lab:
    """JupyterLab started the README's way, ``python -m helpers.lab``, in a checkout of the project."""

    def __init__(self, root: Path, work: Path):
        self.root, self.work = root, work
        self.served = root / "lab"  # helpers.lab's working copy
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = work / "jupyterlab.log"
        self.process = None

    def start(self, timeout: float = 180.0) -> None:
        _write_settings(self.work / "user-settings")
        env = {k: v for k, v in os.environ.items() if k not in ("RNN_MNIST_FIGURES_DIR", "PYTHONPATH")}
        env.update({
            "JUPYTER_CONFIG_DIR": str(self.work / "config"),           # none of the user's Jupyter settings
            "JUPYTER_RUNTIME_DIR": str(self.work / "runtime"),
            "JUPYTER_DATA_DIR": str(self.work / "data"),               # a fresh trust database: nothing trusted
        })
        command = [sys.executable, "-m", "helpers.lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
                   f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
                   f"--IdentityProvider.token={self.token}",
                   f"--LabApp.user_settings_dir={self.work / 'user-settings'}",
                   f"--LabApp.workspaces_dir={self.work / 'workspaces'}"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(command, cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"python -m helpers.lab exited with {self.process.returncode}:\n{self.log()}")
            try:
                self.api("GET", "/api/status")
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.5)
        raise RuntimeError(f"JupyterLab did not answer within {timeout:.0f} s:\n{self.log()}")

    def api(self, method: str, path: str):
        request = urllib.request.Request(self.url + path, method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        for session in self.api("GET", "/api/sessions") or []:
            self.api("DELETE", f"/api/sessions/{session['id']}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(OSError, ValueError):  # stopping anyway (URLError is an OSError)
            self.shutdown_kernels()
        kernels = _children(self.process.pid)
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        for pid in kernels:  # kernels run in sessions of their own: end any the server left behind
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def lab(browser, tmp_path_factory):
    work = tmp_path_factory.mktemp("jupyterlab")
    server = Lab(make_checkout(work / "checkout"), work)
    try:
        server.start()
        yield server
    finally:
        server.stop()


#: The notebook on show (JupyterLab keeps other tabs in the DOM, hidden).
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"


def open_notebook(lab: Lab, page_watch: PageWatch, name: str):
    """Open the working copy's ``name`` alone in JupyterLab and wait for its kernel to be idle.

    Each opening uses a fresh workspace (``?reset``): a restored one would reopen the notebooks of the
    earlier tests, each with a kernel.
    """
    page = page_watch.page
    workspace = re.sub(r"\W", "-", name)
    page.goto(f"{lab.url}/lab/workspaces/{workspace}/tree/{name}?reset&token={lab.token}")
    page.wait_for_selector(f"{PANEL} .jp-Notebook .jp-Cell", timeout=120_000)
    page.wait_for_selector(f'{PANEL} .jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=120_000)
    cells = len(nbformat.read(lab.served / name, as_version=4).cells)
    page.wait_for_function(f"() => document.querySelectorAll('{PANEL} .jp-Notebook .jp-Cell').length === {cells}",
                           timeout=60_000)
    return page


def _cell(page, index: int):
    return page.locator(f"{PANEL} .jp-Notebook .jp-Cell").nth(index)


#: What a reader sees in a cell's outputs: the images shown (live widget's or not) and the visible text.
SHOWN_JS = """cell => {
    const area = cell.querySelector('.jp-Cell-outputArea') || cell;
    const shown = el => el.checkVisibility() && el.getBoundingClientRect().width > 0;
    const images = [...area.querySelectorAll('img')].filter(img => shown(img) && img.naturalWidth > 0)
        .map(img => ({live: !!img.closest('.jupyter-widgets, .widget-output'), src: img.src.slice(-40)}));
    return {images, text: area.innerText};
}"""

#: A widget's repr, or the widget renderer's failures, shown as text instead of the explorer.
REPR_TEXT = re.compile(r"\w+\(children=|Loading widget|Error displaying widget|model not found")

#: Controls of the explorer whose text (label, value, chosen option) does not fit in its box, or that stick out
#: of the cell.
CLIPPED_JS = """cell => {
    const context = document.createElement('canvas').getContext('2d');
    const width = (el, text) => { const s = getComputedStyle(el);
        context.font = `${s.fontStyle} ${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;
        return context.measureText(text).width; };
    const right = (cell.querySelector('.jp-Cell-outputArea') || cell).getBoundingClientRect().right;
    const clipped = [];
    const selector = '.widget-label, .widget-readout, .widget-dropdown select, .widget-text input';
    for (const el of cell.querySelectorAll('.jupyter-widgets :is(' + selector + ')')) {
        const box = el.getBoundingClientRect();
        if (!el.checkVisibility() || box.width === 0) continue;
        const text = el.tagName === 'SELECT' ? (el.options[el.selectedIndex] || {}).text || ''
            : el.tagName === 'INPUT' ? el.value : el.textContent;
        const room = box.width - (el.tagName === 'SELECT' ? 24 : el.tagName === 'INPUT' ? 8 : 0);
        if (el.scrollWidth > el.clientWidth + 1 || width(el, text) > room + 1 || box.right > right + 1)
            clipped.push(`${el.tagName.toLowerCase()}.${el.className} "${text}": ${Math.round(box.width)} px`);
    }
    return clipped;
}"""

#: An error or stderr output as JupyterLab renders it: both under the stderr MIME type (the notebooks have no
#: stderr output: TensorFlow's log noise is kept out), the error type kept for older versions.
ERROR_OUTPUT = '[data-mime-type="application/vnd.jupyter.stderr"], [data-mime-type="application/vnd.jupyter.error"]'

#: True once every code cell has run (or a cell failed) and nothing is running any more.
RUN_FINISHED_JS = """() => {
    const cells = [...document.querySelectorAll('PANEL .jp-Notebook .jp-CodeCell')];
    const prompts = cells.map(c => (c.querySelector('.jp-InputPrompt') || {}).textContent || '');
    const indicator = document.querySelector('PANEL .jp-Notebook-ExecutionIndicator');
    if (!indicator || indicator.dataset.status !== 'idle') return false;
    // After an error the kernel stops, and the cells still queued may keep their '*': done, with the error.
    if (document.querySelector('PANEL :is(ERROR)')) return true;
    return !prompts.some(t => t.includes('*')) && prompts.every(t => /\\[\\d+\\]/.test(t));
}""".replace("PANEL", PANEL).replace("ERROR", ERROR_OUTPUT)

#: The src of the image the live explorer drew in its cell ('' while there is none).
WIDGET_IMAGE_JS = """cell => {
    const imgs = [...cell.querySelectorAll('.jupyter-widgets img, .widget-output img')]
        .filter(img => img.complete && img.naturalWidth > 0);
    return imgs.length ? imgs[imgs.length - 1].src : '';
}"""


def _menu(page, menu: str, command: str) -> None:
    page.locator(".lm-MenuBar-item", has_text=re.compile(rf"^{menu}$")).click()
    page.locator(f'.lm-Menu-item[data-command="{command}"]').click()


def check_explorer_after_run(page, cell, name: str) -> None:
    """Exactly one figure, the live one; no hint, repr or error text; no control clipped."""
    shown = cell.evaluate(SHOWN_JS)
    assert [img["live"] for img in shown["images"]] == [True], (
        f"{name}: after running, the explorer should show exactly one figure, the live one: {shown['images']}")
    assert HINT_TEXT not in shown["text"] and not REPR_TEXT.search(shown["text"]), (name, shown["text"][:500])
    clipped = cell.evaluate(CLIPPED_JS)
    assert not clipped, f"{name}: controls cut at the default width: {clipped}"


@pytest.mark.parametrize("name", WIDGET_NOTEBOOKS)
def test_explorer_shows_its_image_and_a_hint_before_running(lab, watch, name):
    index = widget_cell(lab.served / name)
    page_watch = watch()
    page = open_notebook(lab, page_watch, name)
    cell = _cell(page, index)
    cell.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    shown = cell.evaluate(SHOWN_JS)
    lab.shutdown_kernels()
    assert [img["live"] for img in shown["images"]] == [False], (
        f"{name}, cell {index}: before running, the explorer should show one static image: {shown['images']}; "
        f"the cell should display helpers.analysis.widgets.with_static_view(...)")
    assert HINT_TEXT in shown["text"], f"{name}: no one-line hint under the image: {shown['text'][:300]!r}"
    assert not REPR_TEXT.search(shown["text"]), f"{name}: widget text shown instead: {shown['text'][:300]!r}"
    assert not page_watch.problems(), page_watch.problems()


def _close_tab(page, button: str) -> str:
    """A reader's last edit (a comment typed into the first code cell), then at once File > Close Tab; the
    notebook has unsaved changes unless autosave struck in between: answer ``button``. Returns what happened."""
    editor = page.locator(f"{PANEL} .jp-CodeCell .cm-content").first
    editor.click()
    page.keyboard.press("End")
    page.keyboard.type("  # a reader's note")
    page.keyboard.press("Escape")
    _menu(page, "File", "application:close")
    dialog = page.locator(".jp-Dialog")
    try:
        dialog.wait_for(timeout=5_000)
    except Exception:  # Playwright's TimeoutError: nothing unsaved (autosave had just saved it)
        return "closed (nothing unsaved)"
    dialog.locator(".jp-Dialog-button", has_text=re.compile(rf"^{button}$")).click()
    dialog.wait_for(state="detached", timeout=30_000)
    return f"closed with {button}"


@pytest.mark.parametrize("name", WIDGET_NOTEBOOKS)
def test_run_all_with_autosave_leaves_git_status_clean(lab, watch, name):
    index = widget_cell(lab.served / name)
    committed = (lab.root / "notebooks" / name).read_bytes()
    page_watch = watch()
    page = open_notebook(lab, page_watch, name)
    try:
        # Clear the outputs so that "every cell has run" cannot be mistaken for the saved state.
        _menu(page, "Edit", "editmenu:clear-all")
        page.wait_for_function(f"""() => [...document.querySelectorAll('{PANEL} .jp-CodeCell .jp-InputPrompt')]
            .every(p => !/\\d/.test(p.textContent))""", timeout=30_000)

        start, started_at = time.monotonic(), time.time()
        _menu(page, "Run", "runmenu:run-all")
        page.wait_for_function(RUN_FINISHED_JS, timeout=RUN_TIMEOUT_S * 1000, polling=1000)
        elapsed = time.monotonic() - start

        errors = page.locator(f"{PANEL} :is({ERROR_OUTPUT})")
        assert errors.count() == 0, f"{name}: error output after Run All:\n" + "\n".join(
            errors.all_inner_texts())[:3000]
        assert not page_watch.problems(), page_watch.problems()
        assert elapsed > AUTOSAVE_S, f"{name}: Run All took {elapsed:.0f} s, not longer than the autosave interval"
        deadline = time.monotonic() + 3 * AUTOSAVE_S
        while (lab.served / name).read_bytes() == committed and time.monotonic() < deadline:
            time.sleep(1)
        assert (lab.served / name).read_bytes() != committed, f"{name}: autosave never wrote the working copy"

        cell = _cell(page, index)
        cell.scroll_into_view_if_needed()
        page.wait_for_function(f"() => ({WIDGET_IMAGE_JS})(document.querySelectorAll("
                               f"'{PANEL} .jp-Notebook .jp-Cell')[{index}])",
                               timeout=REDRAW_TIMEOUT_S * 1000)
        check_explorer_after_run(page, cell, name)
        before = cell.evaluate(WIDGET_IMAGE_JS)

        select = cell.locator(".jupyter-widgets select").first
        current = select.evaluate("s => s.options[s.selectedIndex].text")
        other = next(text for text in select.locator("option").all_inner_texts() if text != current)
        select.select_option(label=other)
        page.wait_for_function(
            f"([before, index]) => {{ const cell = document.querySelectorAll("
            f"'{PANEL} .jp-Notebook .jp-Cell')[index]; const src = ({WIDGET_IMAGE_JS})(cell);"
            f" return src && src !== before; }}",
            arg=[before, index], timeout=REDRAW_TIMEOUT_S * 1000)
        assert not cell.locator(ERROR_OUTPUT).count()
        check_explorer_after_run(page, cell, name)
        assert not page_watch.problems(), page_watch.problems()
        closed = _close_tab(page, CLOSE_WITH[name])
        print(f"{name}: Run All took {elapsed:.0f} s (autosave every {AUTOSAVE_S} s); '{current}' -> '{other}' "
              f"redrew the explorer; {closed}")
    finally:
        lab.shutdown_kernels()
    status = git(lab.root, "status", "--porcelain", "--untracked-files=all")
    assert status == "", f"{name}: running it the README's way changed the checkout:\n{status}"
    # The figures of this run went to the working copy's lab/figures/ (git-ignored), not to figures/.
    saved = [p.name for p in (lab.served / "figures").glob(f"{name[:3]}*.png") if p.stat().st_mtime >= started_at]
    assert saved, f"{name}: Run All saved no figure into lab/figures/"


# --- the static book ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    out = tmp_path_factory.mktemp("book") / "site"
    return out, site.build_site(out, NOTEBOOKS)


MATH_DONE_JS = "() => new Promise(done => MathJax.Hub.Queue(() => done(true)))"

#: Code (input or printed) that is wider than a box which neither wraps it nor scrolls: its end is cut off.
CUT_CODE_JS = """() => {
    const cut = [];
    for (const pre of document.querySelectorAll('.jp-Cell pre')) {
        for (let el = pre; el && !el.classList.contains('jp-Cell'); el = el.parentElement) {
            if (el.scrollWidth > el.clientWidth + 1 && !['auto', 'scroll'].includes(getComputedStyle(el).overflowX)) {
                const line = pre.textContent.split('\\n').reduce((a, b) => (b.length > a.length ? b : a), '');
                cut.push(`${line.slice(0, 60)}... (${el.className || el.tagName})`);
                break;
            }
        }
    }
    return cut;
}"""


def test_book_opens_from_disk_without_network(watch, book):
    out, pages = book
    page_watch = watch(offline=True)
    outside = []
    page_watch.context.route(re.compile(r"^(?!file:|data:)"), lambda route: (outside.append(route.request.url),
                                                                                route.abort()))
    page = page_watch.page

    page.goto((out / "index.html").as_uri())
    links = page.locator("ol.notebooks a")
    assert links.count() == len(pages)
    links.nth(0).click()
    page.wait_for_load_state("load")
    assert page.url.endswith(pages[0].file)

    for book_page in pages:
        page.goto((out / book_page.file).as_uri())
        page.wait_for_function(MATH_DONE_JS, timeout=60_000)
        page.wait_for_function("() => [...document.images].every(img => img.complete)", timeout=30_000)
        # MathJax may still fetch a web font after typesetting: leaving the page then would abort that request.
        page.wait_for_function("() => document.fonts.status === 'loaded'", timeout=60_000)
        page.wait_for_load_state("networkidle", timeout=60_000)
        broken = page.evaluate("() => [...document.images].filter(img => !(img.naturalWidth > 0))"
                               ".map(img => img.src.slice(0, 80))")
        assert not broken, (book_page.file, broken)
        assert page.evaluate("() => document.images.length") >= 3, book_page.file

        source = nbformat.read(book_page.notebook, as_version=4)
        has_maths = any(c.cell_type == "markdown" and "$" in c.source for c in source.cells)
        typeset = page.evaluate("() => document.querySelectorAll('.MathJax, .MathJax_Display').length")
        assert (typeset > 0) == has_maths, (book_page.file, typeset)
        assert page.evaluate("() => document.querySelectorAll('.MathJax_Error, .noError, merror').length") == 0
        text = page.evaluate("() => [...document.querySelectorAll('.jp-MarkdownOutput')]"
                             ".map(e => e.innerText).join('\\n')")
        assert "$$" not in text and r"\begin{" not in text, (book_page.file, "maths left as TeX")
        assert not re.search(r"\$[^$\s][^$]*\$", text), (book_page.file, "inline maths left as TeX")
        cut = page.evaluate(CUT_CODE_JS)
        assert not cut, f"{book_page.file}: code lines cut off, neither wrapped nor scrollable: {cut}"

    non_file = [url for url in page_watch.requests if not url.startswith(("file:", "data:"))]
    assert not outside and not non_file, outside + non_file
    # A file that exists but whose request was aborted was cut off by leaving the page (a loaded machine can be
    # slow to start a font request); a missing file fails with net::ERR_FILE_NOT_FOUND and still counts.
    page_watch.failed = [f for f in page_watch.failed if not _aborted_existing_file(f)]
    assert not page_watch.problems(), page_watch.problems()
    assert any("/mathjax/MathJax.js" in url for url in page_watch.requests)


def _aborted_existing_file(failure: str) -> bool:
    """Whether a ``PageWatch.failed`` entry is an aborted request for a ``file:`` URL that exists."""
    from urllib.parse import unquote, urlsplit

    url, _, reason = failure.rpartition(": ")
    parts = urlsplit(url)
    return reason == "net::ERR_ABORTED" and parts.scheme == "file" and Path(unquote(parts.path)).is_file()
