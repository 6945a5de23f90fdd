"""solutions -> labs: the conventions, their error messages, and that labs/ is current and runs."""

import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from bwkit.kit import notebooks
from bwkit.kit.execute import check_lab

ROOT = Path(__file__).resolve().parents[1]


def _ex(ex="01.1", body="    return 42\n", points=2):
    sol = new_code_cell("def f():\n    ### BEGIN SOLUTION\n" + body + "    ### END SOLUTION\n",
                        metadata={"bwkit": {"exercise": ex, "role": "solution", "points": points, "title": "answer"}})
    hint = new_markdown_cell("<details><summary>Hint</summary>\n\n42\n</details>",
                             metadata={"bwkit": {"exercise": ex, "role": "hint"}})
    chk = new_code_cell("from bwkit.kit.checks import check\ncheck(f(), 42, name='answer')",
                        metadata={"bwkit": {"exercise": ex, "role": "check"}})
    return [sol, hint, chk]


def _nb(cells):
    nb = new_notebook(cells=cells)
    for i, c in enumerate(nb.cells):
        c.id = f"c{i}"
    return nb


def test_lab_stub_keeps_indentation_and_names_exercise():
    nb = _nb([new_code_cell("x = 1")] + _ex())
    lab = notebooks.lab_from_solution(nb)
    src = lab.cells[1].source
    assert "return 42" not in src and "BEGIN SOLUTION" not in src
    assert '    raise NotImplementedError("Exercise 01.1 (answer): write your code here")' in src
    assert src.startswith("def f():\n")
    assert lab.cells[1].id == "c1" and lab.cells[1].metadata["bwkit"]["exercise"] == "01.1"
    assert all(not c.get("outputs") for c in lab.cells if c.cell_type == "code")
    assert nb.cells[1].source.count("return 42") == 1  # the solution object is untouched


def test_markdown_answers_are_replaced():
    cells = _ex()
    cells.insert(1, new_markdown_cell("Why?\n<!-- ### BEGIN SOLUTION -->\nBecause.\n<!-- ### END SOLUTION -->",
                                      metadata={"bwkit": {"exercise": "01.1", "role": "solution"}}))
    lab = notebooks.lab_from_solution(_nb(cells))
    assert lab.cells[1].source == "Why?\n*Your answer here.*"


def test_exercises_listing():
    exs = notebooks.exercises(_nb(_ex("01.1") + _ex("01.2", points=3)))
    assert [(e.id, e.points, e.check_cell) for e in exs] == [("01.1", 2.0, "c2"), ("01.2", 3.0, "c5")]


@pytest.mark.parametrize("mutate,err", [
    (lambda c: setattr(c[0], "source", "def f():\n    ### BEGIN SOLUTION\n    return 1\n"), "never closed"),
    (lambda c: setattr(c[0], "source", "def f():\n    return 1\n    ### END SOLUTION\n"), "without a matching"),
    (lambda c: setattr(c[0], "source", "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION"), "inside an open"),
    (lambda c: c.pop(2), "no 'check' cell"),
    (lambda c: c.pop(1), "no 'hint' cell"),
    (lambda c: c[0].metadata["bwkit"].update(points=0), "positive"),
    (lambda c: c[0].metadata["bwkit"].update(role="answer"), "bwkit.role"),
    (lambda c: c[1].update(source="just text"), "<details>"),
    (lambda c: c[0].metadata.pop("bwkit"), "no bwkit exercise metadata"),
])
def test_bad_notebooks_name_notebook_and_cell(mutate, err):
    cells = _ex()
    mutate(cells)
    with pytest.raises(notebooks.LabBuildError, match=err) as e:
        notebooks.lab_from_solution(_nb(cells), "solutions/99_x.ipynb")
    assert "solutions/99_x.ipynb" in str(e.value)


def test_make_labs_and_staleness(tmp_path):
    sol, labs = tmp_path / "solutions", tmp_path / "labs"
    sol.mkdir()
    nbformat.write(_nb(_ex()), sol / "01_x.ipynb")
    assert notebooks.stale_labs(sol, labs) == [f"{labs / '01_x.ipynb'} is missing"]
    assert notebooks.make_labs(sol, labs) == [labs / "01_x.ipynb"]
    assert notebooks.stale_labs(sol, labs) == []
    (labs / "01_x.ipynb").write_text((labs / "01_x.ipynb").read_text().replace("write your code", "edited"))
    assert "differs" in notebooks.stale_labs(sol, labs)[0]
    (labs / "02_orphan.ipynb").write_text("{}")
    assert any("no solution notebook" in p for p in notebooks.stale_labs(sol, labs))
    (sol / "03_broken.ipynb").write_text("{not json")
    with pytest.raises(notebooks.LabBuildError, match="03_broken.ipynb: not a readable notebook"):
        notebooks.make_labs(sol, labs)


def test_cli_make_labs_reports_errors(tmp_path, capsys):
    from bwkit.kit.cli import main

    sol = tmp_path / "s"
    sol.mkdir()
    cells = _ex()
    cells[0].source = "### BEGIN SOLUTION\nx=1\n"
    nbformat.write(_nb(cells), sol / "05_bad.ipynb")
    assert main(["make-labs", "--solutions", str(sol), "--labs", str(tmp_path / "l")]) == 2
    assert "05_bad.ipynb: cell 0" in capsys.readouterr().err


def test_repo_labs_are_current():
    problems = notebooks.stale_labs(ROOT / "solutions", ROOT / "labs")
    assert problems == [], "\n".join(problems) + "\nRun `make labs`."


def test_every_solution_has_a_lab_and_exercises():
    sols = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    assert sols, "no solution notebooks"
    for s in sols:
        nb = nbformat.read(s, as_version=4)
        assert len(notebooks.exercises(nb, s)) >= 4, f"{s.name}: fewer than 4 exercises"
        first_code = next(c for c in nb.cells if c.cell_type == "code")
        assert "bwkit.setup()" in first_code.source, f"{s.name}: first code cell must call bwkit.setup()"


@pytest.mark.skipif(shutil.which("chromium") is not None or shutil.which("chromium-browser") is not None,
                    reason="tests/test_runall_unsolved.py runs every lab through JupyterLab's Run All instead")
@pytest.mark.parametrize("lab", sorted(p.name for p in (ROOT / "labs").glob("[0-9][0-9]_*.ipynb")))
def test_lab_fails_only_at_exercise_cells(lab):
    problems = check_lab(ROOT / "labs" / lab)
    assert problems == [], "\n".join(problems)


def test_the_kit_paths_are_written_once(tmp_path, monkeypatch):
    """REPO_ROOT, the notebook glob and the ./solutions-else-the-kit's default live in `notebooks`; no kit module
    recomputes them (a copy drifted once: parents[3] vs parents[4])."""
    assert notebooks.REPO_ROOT == ROOT and (notebooks.KIT_LIB / "bwkit" / "kit" / "notebooks.py").is_file()
    assert notebooks.lab_notebooks(ROOT / "solutions") == sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    (tmp_path / "solutions").mkdir()
    for name in ("00_a.ipynb", "1_b.ipynb", "xx_c.ipynb", "02_d.txt"):
        (tmp_path / "solutions" / name).write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert notebooks.solutions_dir() == Path("solutions")
    assert notebooks.solution_notebooks() == [Path("solutions/00_a.ipynb")]
    assert notebooks.solution_notebooks(ROOT / "labs") == notebooks.lab_notebooks(ROOT / "labs")
    monkeypatch.chdir(tmp_path / "solutions")
    assert notebooks.solutions_dir() == ROOT / "solutions"
    kit = ROOT / "lib" / "bwkit" / "kit"
    for py in sorted(kit.rglob("*.py")):
        text = py.read_text(encoding="utf-8")
        if py.name != "notebooks.py":
            assert '"[0-9][0-9]_*.ipynb"' not in text, f"{py}: use notebooks.lab_notebooks"
        assert ".parents[" not in text or py.name == "notebooks.py", f"{py}: use notebooks.REPO_ROOT / KIT_LIB"


@pytest.mark.parametrize("rel, hidden", [(".git", True), ("a/.ipynb_checkpoints/x.ipynb", True),
                                         ("__pycache__", True), ("sub/__pycache__/m.pyc", True),
                                         ("00_x.ipynb", False), ("data/w.npz", False), ("", False)])
def test_is_hidden(rel, hidden):
    assert notebooks.is_hidden(rel) is hidden
    assert notebooks.is_hidden(Path(rel)) is hidden
