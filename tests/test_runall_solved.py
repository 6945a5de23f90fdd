"""Run > Run All Cells in JupyterLab on every lab with the official answers pasted in: every check says PASS.

The solved copy carries no Run-All tags, so any failing cell stops the run and fails the test.
"""


import pytest
from browser_labs import (
    CHROMIUM,
    FLAGS,
    LABS,
    errors_of,
    jupyterlab,
    require_chromium,
    role,
    run_all,
    solved_copy,
    text_of,
)

require_chromium()

from playwright.sync_api import sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runall-solved")
    work = tmp / "labs"
    work.mkdir()
    with jupyterlab(work, tmp) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield browser, url, work
        browser.close()


@pytest.mark.parametrize("lab", LABS)
def test_run_all_with_the_official_answers_passes_every_check(session, lab):
    browser, url, work = session
    name = solved_copy(lab, work)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        nb = run_all(page, url, work, name, shot=lab.replace(".ipynb", "-solved"))
    finally:
        page.close()
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [(c.get("id"), errors_of(c)[0]["ename"]) for c in code if errors_of(c)]
    assert not errors, f"{lab} with the official answers: cells raised {errors}"
    checks = [c for c in code if role(c) == "check"]
    failing = [c.get("id") for c in checks if "PASS ✅" not in text_of(c)]
    assert checks and not failing, f"{lab}: checks without PASS: {failing}"
