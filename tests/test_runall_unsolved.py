"""A learner presses Run > Run All Cells in JupyterLab on every lab as generated (no exercise solved).

Every non-exercise cell must run without error (so every plot appears); only exercise cells (solution stub,
check) may fail, and each exercise says it is not answered yet. Screenshots: artifacts/jupyterlab/.
"""

import shutil

import pytest
from browser_labs import LABS, ROOT, errors_of, lab_browser, require_chromium, role, run_all_in_new_page

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
