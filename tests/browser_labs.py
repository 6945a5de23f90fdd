"""Driving JupyterLab in Chromium the way a learner does: open a lab, Run > Run All Cells, save, read the result.

Shared by tests/test_runall_unsolved.py (every lab as generated: only exercise cells may fail) and
tests/test_runall_solved.py (the official answers pasted in: every check says PASS). Screenshots go to
artifacts/jupyterlab/.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts" / "jupyterlab"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
LABS = sorted(p.name for p in (ROOT / "labs").glob("[0-9][0-9]_*.ipynb"))
TOKEN = "bwkit-runall-test"


def require_chromium() -> None:
    """Skip outside CI when Chromium is missing; in CI (env CI set) a missing browser is an error."""
    if CHROMIUM is None:
        if os.environ.get("CI"):
            raise RuntimeError("CI must run the browser tests: .ci/run installs Debian's chromium")
        pytest.skip("Chromium is not installed (apt-get install chromium); CI installs it and runs these tests",
                    allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def jupyterlab(root_dir: Path, tmp: Path):
    """A JupyterLab server on loopback serving `root_dir`; yields its base URL."""
    port = _free_port()
    # the kernels' unix sockets live in the runtime dir: a short path (sun_path holds 107 bytes)
    runtime_dir = tempfile.mkdtemp(prefix="bwk-")
    env = {**os.environ, "BWKIT_FORCE_CPU": "1", "JUPYTER_CONFIG_DIR": str(tmp / "cfg"),
           "JUPYTER_RUNTIME_DIR": runtime_dir, "JUPYTER_DATA_DIR": str(tmp / "data"),
           "TRITON_DEFAULT_FP_FUSION": "1", "PYTHONHASHSEED": "0",
           "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    # Notebooks open in JupyterLab's default "Notebook" view; no news, no announcements (no network here).
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root_dir}", "--ServerApp.open_browser=False",
           "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           # kernels on unix sockets: no TCP port to lose to a parallel test ("Address already in use")
           "--KernelManager.transport=ipc"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(tmp / "jupyterlab.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            if proc.poll() is not None:
                break
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start: " + (tmp / "jupyterlab.log").read_text()[-2000:])
        if proc.poll() is not None:
            pytest.fail("JupyterLab exited: " + (tmp / "jupyterlab.log").read_text()[-2000:])
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(runtime_dir, ignore_errors=True)


@contextmanager
def lab_browser(work: Path, tmp: Path):
    """JupyterLab serving `work` and a headless Chromium: yields (browser, base URL)."""
    from playwright.sync_api import sync_playwright

    with jupyterlab(work, tmp) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield browser, url
        finally:
            browser.close()


def run_all_in_new_page(browser, url: str, work: Path, name: str, shot: str) -> nbformat.NotebookNode:
    """`run_all` in a fresh page of `browser` (closed afterwards, also on failure)."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        return run_all(page, url, work, name, shot=shot)
    finally:
        page.close()


_PROMPTS = """() => Array.from(document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt'))
                   .map(e => e.textContent.trim())"""


def run_all(page, url: str, folder: Path, name: str, timeout: float = 900.0, shot: str = "") -> nbformat.NotebookNode:
    """Open `name` in JupyterLab, Run All Cells from the Run menu, wait, save; return the saved notebook."""
    _start_session(url, folder, name)
    page.goto(f"{url}/lab/tree/{name}?reset&token={TOKEN}")       # reset: no workspace of an earlier lab
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=240000)
    _dismiss_dialogs(page, name, shot)
    kernels = [s["kernel"]["id"] for s in sessions_of(url, name, timeout=10.0)]
    assert len(kernels) == 1, f"{name}: JupyterLab started a kernel of its own beside the lab's: {kernels}"
    deadline = time.monotonic() + timeout
    for _ in range(3):                # a Run All sent while the kernel still connects may be dropped: retry
        _click(page, page.locator(".lm-MenuBar-item", has_text="Run").first, name, shot)
        _click(page, page.locator(".lm-Menu-item:visible", has_text="Run All Cells").first, name, shot)
        time.sleep(2.0)
        started = any(p not in ("[ ]:", "") for p in page.evaluate(_PROMPTS))
        if started:
            break
        time.sleep(3.0)
    idle_since, gone_since = None, None
    while time.monotonic() < deadline:      # the kernel's state from the server: idle for 3 s = done
        state = _kernel_state(url, name)
        if state in (None, "dead"):         # no kernel behind the session: it died or never started
            gone_since = gone_since or time.monotonic()
            if time.monotonic() - gone_since >= 30.0:
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / f"{shot or name}-dead.png"))
                pytest.fail(f"{name}: the kernel died or never started (state {state!r}); see jupyterlab.log")
        else:
            gone_since = None
        if state == "idle":
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since >= 3.0:
                break
        else:
            idle_since = None
        time.sleep(0.5)
    else:
        page.screenshot(path=str(ARTIFACTS / f"{shot or name}-timeout.png"))
        pytest.fail(f"{name}: Run All did not finish in {timeout:.0f} s; prompts: {page.evaluate(_PROMPTS)}")
    page.keyboard.press("Control+s")
    page.wait_for_selector(".jp-StatusBar-TextItem:has-text('Saving completed')", timeout=30000)
    page.keyboard.press("End")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{shot or name}.png"))
    nb = nbformat.read(folder / name, as_version=4)
    shutdown_kernel(url, name)
    return nb


def _api(url: str, path: str, body: dict | None = None, method: str = "GET", timeout: float = 10.0):
    """A call to the Jupyter server's REST API; returns the decoded JSON answer."""
    import json

    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{url}{path}?token={TOKEN}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        raw = r.read()
    return json.loads(raw) if raw else None


def sessions_of(url: str, name: str, timeout: float = 5.0) -> list[dict]:
    """The server's sessions open on the notebook `name` (REST API)."""
    return [s for s in _api(url, "/api/sessions", timeout=timeout) if s.get("path", "").endswith(name)]


def _start_session(url: str, folder: Path, name: str) -> None:
    """Start the lab's kernel the way JupyterLab would (its own kernelspec), before the page opens.

    JupyterLab picks a kernel from the kernelspecs it has fetched; on a loaded machine it can open the notebook
    before they arrive and then asks "Select Kernel" (seen in CI). A session already running on the path is
    simply connected to. The lab's kernelspec must be one the server offers: that part is what a learner relies on.
    """
    spec = nbformat.read(folder / name, as_version=4).metadata.get("kernelspec", {}).get("name")
    offered = sorted(_api(url, "/api/kernelspecs")["kernelspecs"])
    if spec not in offered:
        pytest.fail(f"{name}: its kernelspec {spec!r} is not one JupyterLab offers ({offered}): a learner "
                    "would be asked to pick a kernel")
    try:
        _api(url, "/api/sessions", {"path": name, "type": "notebook", "name": name, "kernel": {"name": spec}},
             method="POST", timeout=240.0)
    except OSError as e:
        pytest.fail(f"{name}: the server could not start its {spec!r} kernel: {e}; see jupyterlab.log")


def shutdown_kernel(url: str, name: str) -> None:
    """Shut the lab's kernel down (the next lab gets the CPU and the memory)."""
    try:
        for s in sessions_of(url, name):
            _api(url, f"/api/sessions/{s['id']}", method="DELETE")
    except OSError:
        pass


def _click(page, locator, name: str, shot: str) -> None:
    """Click a menu entry; when a dialog that opened meanwhile is in the way, fail saying what it asked."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        locator.click(timeout=30000)
    except PlaywrightTimeout:
        _dismiss_dialogs(page, name, shot, wait=0.0)
        raise


def accept_kernel_choice(page, kernel: str = "Python 3 (ipykernel)") -> list[str]:
    """Answer JupyterLab's "Select Kernel" dialog, whenever it opens on `page`, the way a learner does: pick `kernel`.

    JupyterLab asks when it opens a notebook before its kernelspecs have arrived (a loaded machine: seen in CI).
    Where the test controls the server, `run_all` starts the kernel first instead; this is for servers it does
    not (JupyterHub's). A dialog that does not offer `kernel` is left open, and the next click fails on it.
    Returns the choices made, one per answered dialog.
    """
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    answered: list[str] = []

    def choose(d) -> None:
        labels = d.locator("select option").all_inner_texts()
        if kernel in labels:
            d.locator("select").select_option(label=kernel)
            d.locator("button.jp-mod-accept").click()
            answered.append(kernel)

    page.add_locator_handler(dialog, choose, no_wait_after=True)
    return answered


def _dismiss_dialogs(page, name: str, shot: str, wait: float = 1.0) -> None:
    """Fail on an unexpected JupyterLab dialog (kernel choice, errors), saying what it asked."""
    time.sleep(wait)
    dialog = page.locator(".jp-Dialog")
    if dialog.count():
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{shot or name}-dialog.png"))
        pytest.fail(f"{name}: JupyterLab opened a dialog: {dialog.first.inner_text()[:500]!r}")


def _kernel_state(url: str, name: str) -> str | None:
    """The execution state of the kernel of the session open on `name` (server REST API)."""
    try:
        sessions = sessions_of(url, name)
    except OSError:
        return None
    return (sessions[0].get("kernel") or {}).get("execution_state") if sessions else None


def role(cell) -> str | None:
    """The exercise role of a cell (solution/hint/check) or None."""
    return (cell.metadata.get("bwkit") or {}).get("role")


def errors_of(cell) -> list[dict]:
    """The error outputs of a code cell."""
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def text_of(cell) -> str:
    """A code cell's stream and text/plain output."""
    out = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            out.append(o.get("text", ""))
        elif o.get("output_type") == "error":
            out.append("\n".join(o.get("traceback", [])))
    return "".join(out)


def solved_copy(lab_name: str, folder: Path) -> str:
    """Write the lab with the official answers pasted in (the solution's sources, no outputs); return its name."""
    sol = nbformat.read(ROOT / "solutions" / lab_name, as_version=4)
    for c in sol.cells:
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    name = lab_name.replace(".ipynb", "-solved.ipynb")
    nbformat.write(sol, folder / name)
    return name
