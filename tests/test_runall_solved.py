"""Run > Run All Cells in JupyterLab on every lab with the official answers pasted in: every check says PASS.

The solved copy carries no Run-All tags, so any failing cell stops the run and fails the test.
"""


import pytest
from browser_labs import LABS, errors_of, lab_browser, require_chromium, role, run_all_in_new_page, solved_copy, text_of

require_chromium()


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runall-solved")
    work = tmp / "labs"
    work.mkdir()
    with lab_browser(work, tmp) as (browser, url):
        yield browser, url, work


@pytest.mark.parametrize("lab", LABS)
def test_run_all_with_the_official_answers_passes_every_check(session, lab):
    browser, url, work = session
    name = solved_copy(lab, work)
    nb = run_all_in_new_page(browser, url, work, name, shot=lab.replace(".ipynb", "-solved"))
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [(c.get("id"), errors_of(c)[0]["ename"]) for c in code if errors_of(c)]
    assert not errors, f"{lab} with the official answers: cells raised {errors}"
    checks = [c for c in code if role(c) == "check"]
    failing = [c.get("id") for c in checks if "PASS ✅" not in text_of(c)]
    assert checks and not failing, f"{lab}: checks without PASS: {failing}"
