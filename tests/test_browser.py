"""Real-browser tests: every slide deck opens offline and steps through; JupyterLab opens lab 00 and runs it.

Uses Debian's Chromium (`apt-get install chromium`; `.ci/run` installs it) driven by Python Playwright.
Screenshots go to artifacts/ (title slide of each deck, JupyterLab with lab 00's first output).
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]

if CHROMIUM is None:
    if os.environ.get("CI"):
        raise RuntimeError("CI must run the browser tests: .ci/run installs Debian's chromium")
    pytest.skip("Chromium is not installed (apt-get install chromium); CI installs it and runs these tests",
                allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402

from bwkit.kit import slides  # noqa: E402


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def decks():
    return slides.build_all(ROOT / "solutions", ROOT / "slides")


def test_one_deck_per_solution_notebook(decks):
    stems = sorted(p.stem for p in (ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(d.name.removesuffix(".slides.html") for d in decks) == stems


def test_decks_open_offline_and_step_through(browser, decks):
    (ARTIFACTS / "slides").mkdir(parents=True, exist_ok=True)
    for deck in decks:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        errors, external = [], []
        page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
        page.on("request", lambda r, ext=external: ext.append(r.url) if r.url.startswith(("http:", "https:")) else None)
        page.goto(deck.as_uri())
        # the deck loads reveal.js as an AMD module (no global): fetch it from require.js once it is ready
        page.wait_for_function("(() => { try { return require('vendor/reveal.js/dist/reveal.js').isReady(); }"
                               " catch (e) { return false; } })()", timeout=30000)
        page.evaluate("window.Reveal = require('vendor/reveal.js/dist/reveal.js')")
        assert page.evaluate("typeof MathJax !== 'undefined'"), f"{deck.name}: MathJax did not load offline"
        title = page.evaluate("document.querySelector('.reveal .slides section').innerText")
        assert "Lab" in title, f"{deck.name}: the first slide is not the lab's title: {title[:80]!r}"
        page.screenshot(path=str(ARTIFACTS / "slides" / f"{deck.stem}-title.png"))
        total = page.evaluate("Reveal.getTotalSlides()")
        assert total >= 5, f"{deck.name}: only {total} slides"
        seen = {page.evaluate("JSON.stringify(Reveal.getIndices())")}
        for _ in range(2000):
            if page.evaluate("Reveal.isLastSlide() && !Reveal.availableFragments().next"):
                break
            page.evaluate("Reveal.next()")
            seen.add(page.evaluate("JSON.stringify(Reveal.getIndices())"))
        else:
            pytest.fail(f"{deck.name}: never reached the last slide")
        assert len(seen) >= total, f"{deck.name}: stepped through {len(seen)} of {total} slides"
        assert errors == [], f"{deck.name}: page errors {errors[:3]}"
        assert external == [], f"{deck.name}: loaded from the network: {external[:3]}"
        page.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_jupyterlab_runs_lab00(browser, tmp_path):
    work = tmp_path / "labs"
    shutil.copytree(ROOT / "labs", work)
    port, token = _free_port(), "bwkit-browser-test"
    env = {**os.environ, "BWKIT_FORCE_CPU": "1", "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")}
    jlab = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}", "--ServerApp.open_browser=False"]
    if os.geteuid() == 0:
        jlab.append("--allow-root")
    log = open(tmp_path / "jupyterlab.log", "w")
    proc = subprocess.Popen(jlab, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(120):
            if proc.poll() is not None:
                break
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start: " + (tmp_path / "jupyterlab.log").read_text()[-2000:])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{url}/lab/tree/00_hardware_roofline.ipynb?token={token}")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=180000)
        out = page.locator(".jp-OutputArea-output", has_text="No CUDA GPU")
        (ARTIFACTS / "jupyterlab").mkdir(parents=True, exist_ok=True)
        try:
            # run the first code cell (`import bwkit; rt = bwkit.setup()`); a run sent while the kernel is still
            # connecting can be dropped, so retry a few times
            for attempt in range(4):
                page.locator(".jp-Notebook .jp-CodeCell .jp-InputArea-editor").first.click()
                page.keyboard.press("Shift+Enter")
                try:
                    out.first.wait_for(timeout=45000)
                    break
                except Exception:
                    if attempt == 3:
                        raise
            page.keyboard.press("Shift+Enter")  # the next cell: `print(doctor_report())`
            page.locator(".jp-OutputArea-output", has_text="Blackwell Lab Kit doctor").first.wait_for(timeout=120000)
        finally:
            page.screenshot(path=str(ARTIFACTS / "jupyterlab" / "lab00.png"))
        assert "Triton kernels run in the Triton interpreter" in out.first.inner_text()
        page.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_bad_slide_type_and_missing_figure_are_named(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    nb = new_notebook(cells=[new_markdown_cell("# Lab 99"), new_code_cell("x = 1")])
    for i, c in enumerate(nb.cells):
        c.id = f"c{i}"
    nb.cells[1].metadata["slideshow"] = {"slide_type": "slidee"}
    with pytest.raises(slides.SlideBuildError, match=r"99\.ipynb: cell 1 \(id c1\): unknown slide type 'slidee'"):
        slides.deck_notebook(nb, "solutions/99.ipynb")
    nb.cells[1].metadata["slideshow"] = {"slide_type": "-"}
    nb.cells[1].metadata["tags"] = ["figure"]
    nb.cells[1].source = "fig = hw.plot_roofline()\nplt.show()"
    with pytest.raises(slides.SlideBuildError, match="cell 1 .* no stored image output"):
        slides.deck_notebook(nb, "solutions/99.ipynb")
    p = tmp_path / "99_x.ipynb"
    nbformat.write(nb, p)
    with pytest.raises(slides.SlideBuildError, match="99_x.ipynb"):
        slides.build_deck(p, tmp_path)
