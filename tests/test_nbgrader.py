"""The labs inside an nbgrader course, with real nbgrader: export, generate_assignment, autograde, and the same
points as `bwkit grade`.

nbgrader (`bwkit.kit.nbgrader.NBGRADER_VERSION`, from PyPI) lives in its own venv, `.venv-nbgrader/` (built once by
`make nbgrader-env` or by this test, then cached), which cannot import bwkit: the correct submission scoring every
point shows that autograde ran the kit's kernel, as the export configures.
"""

import copy
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from bwkit.kit import nbgrader, notebooks

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LAB = "00_hardware_roofline"
SOLUTION = nbformat.read(ROOT / "solutions" / f"{LAB}.ipynb", as_version=4)
EXERCISES = notebooks.exercises(SOLUTION)
RIGHT = {c.id: c.source for c in SOLUTION.cells if c.metadata.get("bwkit", {}).get("role") == "solution"}

# partial: 00.1 right (written differently), 00.2 wrong (the output bytes forgotten), 00.4 right, 00.3/00.5 blank
PARTIAL = {
    "ex00-1-solution": "def ridge_point(peak_tflops, bandwidth_tbps):\n    return peak_tflops / bandwidth_tbps",
    "ex00-2-solution": "def gemm_intensity(M, N, K, in_bytes, out_bytes):\n"
                       "    return 2 * M * N * K / ((M * K + K * N) * in_bytes)",
    "ex00-4-solution": 'answer = "memory"',
}
EXPECTED = {"correct": [2, 2, 2, 1, 1], "partial": [2, 0, 0, 1, 0], "blank": [0, 0, 0, 0, 0]}

GRADEBOOK_QUERY = """
import json, sys
from nbgrader.api import Gradebook
out = {}
with Gradebook(sys.argv[1]) as gb:
    for student in ("correct", "partial", "blank"):
        sub = gb.find_submission_notebook(sys.argv[2], sys.argv[2], student)
        out[student] = {g.name: g.score for g in sub.grades}
print(json.dumps(out))
"""


def _run(cmd, cwd, timeout=600, env=None):
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert r.returncode == 0, f"{cmd[0]} {cmd[1]} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


@pytest.fixture(scope="module")
def nbgrader_exe():
    return nbgrader.ensure_env()  # cached: a no-op after the first build


def test_source_notebook_metadata():
    nb = nbgrader.nbgrader_notebook(SOLUTION, LAB)
    meta = {c.id: c.metadata["nbgrader"] for c in nb.cells}
    assert all(m["schema_version"] == 3 and m["grade_id"] == cid for cid, m in meta.items())
    for ex in EXERCISES:
        [sol] = ex.solution_cells
        assert meta[sol] == {**meta[sol], "solution": True, "grade": False, "locked": False}
        assert meta[ex.check_cell] == {**meta[ex.check_cell], "grade": True, "solution": False, "locked": True,
                                       "points": ex.points}
    exercise_cells = {c for ex in EXERCISES for c in (*ex.solution_cells, ex.check_cell)}
    others = [m for cid, m in meta.items() if cid not in exercise_cells]
    assert others and all(m["locked"] and not m["grade"] and not m["solution"] for m in others)
    assert sum(m.get("points", 0) for m in meta.values()) == sum(ex.points for ex in EXERCISES) == 8
    assert all(c.get("outputs", []) == [] for c in nb.cells)
    assert "### BEGIN SOLUTION" in nb.cells[[c.id for c in nb.cells].index("ex00-1-solution")].source


def test_export_generate_autograde_match_bwkit_grade(nbgrader_exe, tmp_path):
    t0 = time.monotonic()
    venv_bin = nbgrader_exe.parent
    # nbgrader runs `alembic` from PATH: use it as an instructor does, with its venv activated
    activated = {**os.environ, "PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}",
                 "VIRTUAL_ENV": str(venv_bin.parent)}
    # nbgrader's venv has no bwkit: only the kit's kernel can run the check cells
    assert subprocess.run([venv_bin / "python", "-c", "import bwkit"], capture_output=True).returncode != 0

    course = tmp_path / "course"
    r = _run([BIN / "bwkit", "nbgrader", "export", course, "--lab", "00"], cwd=ROOT)
    assert f"source/{LAB}/{LAB}.ipynb" in r.stdout
    kernel = json.loads((course / "jupyter" / "kernels" / "bwkit" / "kernel.json").read_text())
    assert kernel["argv"][0] == str(Path(sys.executable).absolute())
    # exporting again is idempotent (same content, config include not duplicated)
    nbgrader.export_course(course, ["00"])
    assert (course / "nbgrader_config.py").read_text().count("bwkit_nbgrader_config.py") == 1

    _run([nbgrader_exe, "generate_assignment", LAB], cwd=course, timeout=300, env=activated)
    released = nbformat.read(course / "release" / LAB / f"{LAB}.ipynb", as_version=4)
    student_cells = {c.id: c for c in released.cells}
    for ex in EXERCISES:
        src = student_cells[ex.solution_cells[0]].source
        assert "BEGIN SOLUTION" not in src and "raise NotImplementedError()" in src, src
    assert set(student_cells) == {c.id for c in SOLUTION.cells}
    t_gen = time.monotonic() - t0

    subs = tmp_path / "subs"
    for student, answers in {"correct": RIGHT, "partial": PARTIAL, "blank": {}}.items():
        nb = copy.deepcopy(released)
        for c in nb.cells:
            if c.id in answers:
                c.source = answers[c.id]
        for dst in (course / "submitted" / student / LAB / f"{LAB}.ipynb", subs / student / f"{LAB}.ipynb"):
            dst.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, dst)
    # both graders at once (nbgrader runs one notebook at a time, bwkit grade two)
    grades = tmp_path / "grades"
    bw = subprocess.Popen([BIN / "bwkit", "grade", subs, "--lab", "00", "--out", grades, "--workers", "2",
                           "--timeout", "120"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _run([nbgrader_exe, "autograde", LAB], cwd=course, timeout=600, env=activated)
    finally:
        bw_out, bw_err = bw.communicate(timeout=600)
    assert bw.returncode == 0, bw_err[-3000:]
    t_grade = time.monotonic() - t0

    r = _run([venv_bin / "python", "-c", GRADEBOOK_QUERY, f"sqlite:///{course / 'gradebook.db'}", LAB], cwd=course,
             env=activated)
    scores = json.loads(r.stdout)
    autograded = {s: [scores[s][ex.check_cell] for ex in EXERCISES] for s in scores}
    rows = {row["student"]: row for row in csv.DictReader(open(grades / "grades.csv", encoding="utf-8"))}
    bwkit_points = {s: [float(rows[s][ex.id]) for ex in EXERCISES] for s in rows}
    assert autograded == EXPECTED, autograded
    assert bwkit_points == EXPECTED, rows
    # nbgrader really ran the kit's checks: the diagnoses are in the autograded notebooks
    out = nbformat.read(course / "autograded" / "partial" / LAB / f"{LAB}.ipynb", as_version=4)
    check = next(c for c in out.cells if c.id == "ex00-2-check")
    assert any(o.get("ename") == "CheckFailure" for o in check.outputs), check.outputs
    print(f"timings (s): generate {t_gen:.0f}, both graders {t_grade:.0f}, total {time.monotonic() - t0:.0f}")


def test_export_into_an_existing_course_keeps_its_config(tmp_path):
    from traitlets.config.loader import PyFileConfigLoader

    course = tmp_path / "course"
    course.mkdir()
    mine = 'c = get_config()  # noqa\nc.CourseDirectory.course_id = "gpu-programming-2026"\n'
    (course / "nbgrader_config.py").write_text(mine)
    for _ in range(2):
        nbgrader.export_course(course, ["00"])
    text = (course / "nbgrader_config.py").read_text()
    assert text.startswith(mine) and text.count("load_subconfig") == 1
    loader = PyFileConfigLoader("nbgrader_config.py", str(course))
    old = os.environ.get("JUPYTER_PATH")
    try:
        cfg = loader.load_config()
        assert os.environ["JUPYTER_PATH"].split(os.pathsep)[0] == str(course / "jupyter")
    finally:
        os.environ.pop("JUPYTER_PATH") if old is None else os.environ.update(JUPYTER_PATH=old)
    assert cfg.CourseDirectory.course_id == "gpu-programming-2026"
    assert cfg.Execute.kernel_name == nbgrader.KERNEL_NAME and cfg.Execute.timeout == nbgrader.CELL_TIMEOUT
    # a released source that changed is replaced only on request
    src = course / "source" / LAB / f"{LAB}.ipynb"
    src.write_text(src.read_text().replace("Lab 00", "Lab 00 (edited)"))
    with pytest.raises(nbgrader.NbgraderExportError, match="--force"):
        nbgrader.export_course(course, ["00"])
    nbgrader.export_course(course, ["00"], force=True)
    assert "(edited)" not in src.read_text()
    with pytest.raises(nbgrader.NbgraderExportError, match="unknown lab '42'"):
        nbgrader.export_course(course, ["42"])


def test_export_into_a_file_or_over_a_folder_fails_in_one_line(tmp_path, capsys):
    from bwkit.kit import cli

    (tmp_path / "afile").write_text("x")
    with pytest.raises(nbgrader.NbgraderExportError, match="cannot write the course"):
        nbgrader.export_course(tmp_path / "afile" / "course", ["00"])
    course = tmp_path / "course"
    (course / "nbgrader_config.py").mkdir(parents=True)
    with pytest.raises(nbgrader.NbgraderExportError, match="cannot write the course .*nbgrader_config.py"):
        nbgrader.export_course(course, ["00"])
    assert cli.main(["nbgrader", "export", str(tmp_path / "afile" / "course"), "--lab", "00"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nbgrader: cannot write the course") and len(err.strip().splitlines()) == 1
