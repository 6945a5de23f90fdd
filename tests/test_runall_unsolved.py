"""A learner presses Run > Run All Cells in JupyterLab on every lab as generated (no exercise solved).

Every non-exercise cell must run without error (so every plot appears); only exercise cells (solution stub,
check) may fail, and each exercise says it is not answered yet. Screenshots: artifacts/jupyterlab/.
"""

import shutil
import time

import nbformat
import pytest
from browser_labs import (
    LABS,
    ROOT,
    TOKEN,
    accept_kernel_choice,
    errors_of,
    lab_browser,
    require_chromium,
    role,
    run_all_in_new_page,
    sessions_of,
    shutdown_kernel,
)

require_chromium()


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runall-unsolved")
    work = tmp / "labs"
    shutil.copytree(ROOT / "labs", work)
    with lab_browser(work, tmp) as (browser, url):
        yield browser, url, work


@pytest.mark.parametrize("lab", LABS)
def test_run_all_reaches_the_end_of_an_unsolved_lab(session, lab):
    browser, url, work = session
    nb = run_all_in_new_page(browser, url, work, lab, shot=lab.replace(".ipynb", "-unsolved"))
    code = [c for c in nb.cells if c.cell_type == "code"]
    not_run = [i for i, c in enumerate(code) if c.execution_count is None]
    assert not not_run, f"{lab}: Run All stopped; code cells {not_run} never ran"
    bad = [(c.get("id"), errors_of(c)[0]["ename"]) for c in code
           if errors_of(c) and role(c) not in ("solution", "check")]
    assert not bad, f"{lab}: non-exercise cells raised: {bad}"
    figures = [c for c in code if "figure" in c.metadata.get("tags", [])]
    for c in figures:
        assert any("image/png" in o.get("data", {}) for o in c.outputs), f"{lab}: figure cell {c.get('id')} has no plot"
    checks = [c for c in code if role(c) == "check"]
    unanswered = [c.get("id") for c in checks if not any(
        e["ename"] in ("NotAnswered", "NotImplementedError") for e in errors_of(c))]
    assert not unanswered, f"{lab}: these checks did not say 'not answered yet': {unanswered}"


def test_a_select_kernel_dialog_is_answered_as_a_learner_would(session):
    """`accept_kernel_choice` (used on JupyterHub's pages) against a real dialog: a kernelspec the server lacks."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    browser, url, work = session
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "gone", "language": "gone", "display_name": "Gone"}})
    nb.cells = [nbformat.v4.new_code_cell("print('answer', 6 * 7)")]
    nbformat.write(nb, work / "kernel-choice.ipynb")
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        answered = accept_kernel_choice(page)
        page.goto(f"{url}/lab/tree/kernel-choice.ipynb?reset&token={TOKEN}")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120000)
        deadline = time.monotonic() + 120      # JupyterLab asks (no kernel of that name); a wait lets the handler in
        while not answered and time.monotonic() < deadline:
            try:
                page.wait_for_selector(".jp-Dialog", timeout=2000)
            except PlaywrightTimeout:
                pass
        assert answered == ["Python 3 (ipykernel)"], "JupyterLab did not ask, or the handler did not answer"
        # on a loaded machine the kernel starts after the dialog closes, and a key press while the dialog is still
        # going can land nowhere: wait for the closed dialog and the idle kernel, and press again if nothing ran
        page.locator(".jp-Dialog").first.wait_for(state="detached", timeout=60000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=240000)
        output = page.locator(".jp-OutputArea-output", has_text="answer 42").first
        for attempt in range(4):
            page.locator(".jp-Notebook .jp-CodeCell .jp-InputArea-editor").first.click()
            page.keyboard.press("Shift+Enter")
            try:
                output.wait_for(timeout=30000)
                break
            except PlaywrightTimeout:
                if attempt == 3:
                    raise
    finally:
        page.close()
    assert sessions_of(url, "kernel-choice.ipynb")[0]["kernel"]["name"] == "python3"
    shutdown_kernel(url, "kernel-choice.ipynb")
