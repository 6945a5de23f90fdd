"""`bwkit grade`: a tiny fixture lab, a class of synthetic submissions (honest, broken and abusive) and exact scores.

The fixture lab (97_fixture) has three exercises worth 1 + 2 + 1 points and imports nothing heavy, so each
submission runs in a few seconds; the whole class is graded once (module fixture) with 2 workers.
"""

import copy
import json
import os
import tempfile
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from bwkit.kit import cli, grading, notebooks

TIMEOUT = 5.0  # per-cell timeout of the class run
MEMORY_GIB = 3.0


def _hint(ex):
    return new_markdown_cell("<details><summary>Hint</summary>\n\nthink\n</details>",
                             metadata={"bwkit": {"exercise": ex, "role": "hint"}})


def _solution_nb():
    cells = [
        new_markdown_cell("# Lab 97: fixture"),
        new_code_cell("from bwkit.kit.checks import check_choice, check_true\n\nSCALE = 3"),
        new_code_cell("def area(w, h):\n    ### BEGIN SOLUTION\n    return w * h\n    ### END SOLUTION",
                      metadata={"bwkit": {"exercise": "97.1", "role": "solution", "points": 1, "title": "area"}}),
        _hint("97.1"),
        new_code_cell('check_true(area(3, 4) == 12, name="97.1 area",\n'
                      '           diagnosis=f"area(3, 4) returned {area(3, 4)!r}, expected 12")',
                      metadata={"bwkit": {"exercise": "97.1", "role": "check"}}),
        new_code_cell('print("scale", SCALE)'),
        new_code_cell("def ridge(peak_tflops, bandwidth_tbps):\n    ### BEGIN SOLUTION\n"
                      "    return peak_tflops / bandwidth_tbps\n    ### END SOLUTION",
                      metadata={"bwkit": {"exercise": "97.2", "role": "solution", "points": 2,
                                          "title": "ridge point"}}),
        _hint("97.2"),
        new_code_cell('r = ridge(4500, 8.0)\ninverse = r is not None and abs(r - 8.0 / 4500) < 1e-12\n'
                      'check_true(r is not None and abs(r - 562.5) < 1e-9, name="97.2 ridge point",\n'
                      '           diagnosis=f"got {r!r}, expected 562.5"'
                      ' + (": you divided bandwidth by peak" if inverse else ""))',
                      metadata={"bwkit": {"exercise": "97.2", "role": "check"}}),
        new_code_cell('### BEGIN SOLUTION\nanswer = "memory"\n### END SOLUTION',
                      metadata={"bwkit": {"exercise": "97.3", "role": "solution", "points": 1, "title": "bound"}}),
        _hint("97.3"),
        new_code_cell('check_choice(answer, "memory", name="97.3 bound", options=["memory", "compute"],\n'
                      '             explanations={"compute": "decode GEMMs have a tiny intensity"})',
                      metadata={"bwkit": {"exercise": "97.3", "role": "check"}}),
        new_code_cell('print("done")'),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    for i, c in enumerate(nb.cells):
        m = c.metadata.get("bwkit")
        c.id = f"ex{m['exercise'].replace('.', '-')}-{m['role']}" if m else f"c{i:03d}"
    return nb


SOL = _solution_nb()
LAB = notebooks.lab_from_solution(SOL)
RIGHT = {c.id: c.source for c in SOL.cells}


def _student(base=LAB, **edits):
    """A copy of `base` with cell sources replaced by id (keyword: cell id with '-' written as '_')."""
    nb = copy.deepcopy(base)
    for key, src in edits.items():
        cid = key.replace("_", "-")
        [cell] = [c for c in nb.cells if c.id == cid]
        cell.source = src
    return nb


def _solved(**edits):
    sol = {k.replace("-", "_"): v for k, v in RIGHT.items() if "solution" in k}
    sol.update(edits)
    return _student(**sol)


def _cell(nb, cid):
    return next(c for c in nb.cells if c.id == cid)


def _write(nb, path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


LOOP = "def area(w, h):\n    return w * h\n\nwhile True:\n    pass"
STUBBORN = ("import time\n\nwhile True:\n    try:\n        time.sleep(30)\n    except KeyboardInterrupt:\n"
            "        pass")


def _build_class(root: Path, sentinel: Path) -> dict[str, float]:
    """Write the submissions; return the exact expected totals."""
    sub = root / "subs"
    name = "97_fixture.ipynb"
    expected = {}

    _write(_solved(), sub / "correct" / name)
    expected["correct"] = 4

    _write(_solved(ex97_2_solution="def ridge(peak_tflops, bandwidth_tbps):\n"
                                   "    return bandwidth_tbps / peak_tflops"), sub / "partly_wrong" / name)
    expected["partly_wrong"] = 2

    _write(_solved(ex97_1_solution=LOOP), sub / "infinite_loop" / name)
    expected["infinite_loop"] = 3

    _write(_solved(ex97_3_solution=STUBBORN), sub / "stubborn_loop" / name)
    expected["stubborn_loop"] = 3

    _write(_solved(ex97_2_solution="import os\n\nos._exit(3)"), sub / "os_exit" / name)
    expected["os_exit"] = 2

    _write(_solved(ex97_1_solution="import ctypes\n\nctypes.string_at(0)"), sub / "segfault" / name)
    expected["segfault"] = 3

    _write(_solved(ex97_1_solution="def area(w, h):\n    return w * h\n\nhog = bytearray(64 * 2**30)"),
           sub / "memory_hog" / name)
    expected["memory_hog"] = 3

    nb = _solved(ex97_2_solution="def ridge(peak_tflops, bandwidth_tbps):\n    return 0.0",
                 ex97_2_check='print("✅ 97.2 ridge point")')
    _write(nb, sub / "edited_check" / name)
    expected["edited_check"] = 2

    nb = _solved()
    nb.cells = [c for c in nb.cells if c.id != "ex97-1-check"]
    _write(nb, sub / "deleted_check" / name)
    expected["deleted_check"] = 4

    nb = _solved(ex97_1_solution="# NBVAL_SKIP\ndef area(w, h):\n    return w + h",
                 ex97_1_check="# NBVAL_RAISES_EXCEPTION\n" + RIGHT["ex97-1-check"],
                 ex97_2_solution="# NBVAL_RAISES_EXCEPTION\nraise ValueError('no idea')")
    for cid in ("ex97-1-check", "ex97-2-solution"):
        _cell(nb, cid).metadata["tags"] = ["raises-exception", "nbval-skip"]
    _write(nb, sub / "nbval_abuse" / name)
    expected["nbval_abuse"] = 1

    nb = _student(ex97_3_solution='answer = "memory"')
    for i, c in enumerate(nb.cells):
        if c.cell_type == "code":
            c.execution_count = i + 1
            ex = (c.metadata.get("bwkit") or {}).get("exercise", "")
            c.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"✅ {ex} all good\n")]
        if c.id == "ex97-1-check":
            c.source = "# NBVAL_CHECK_OUTPUT\n" + c.source
    _write(nb, sub / "fake_outputs" / name)
    expected["fake_outputs"] = 1

    (sub / "malformed").mkdir(parents=True)
    (sub / "malformed" / name).write_text('{"cells": [', encoding="utf-8")
    expected["malformed"] = 0

    (sub / "missing").mkdir(parents=True)
    (sub / "missing" / "README.txt").write_text("forgot to upload", encoding="utf-8")
    expected["missing"] = 0

    # Extra files: a malicious conftest.py, a pytest.ini and a module shadowing bwkit must never be loaded; the
    # answer to 97.3 is right only when the kernel's folder holds none of the student's files.
    extra = sub / "extra_files"
    _write(_solved(ex97_3_solution='import os\n\nanswer = "memory" if not [n for n in os.listdir(".") '
                                   'if not n.startswith(".")] else "compute"'), extra / name)
    _write(_student(), extra / "scratch.ipynb")
    evil = f"open({str(sentinel)!r}, 'w').write('loaded')\n"
    (extra / "conftest.py").write_text(evil + "import os\nos._exit(0)\n", encoding="utf-8")
    (extra / "pytest.ini").write_text("[pytest]\naddopts = -p conftest --nbval-cell-timeout=0.001\n")
    (extra / "bwkit").mkdir()
    (extra / "bwkit" / "__init__.py").write_text(evil)
    (extra / "sitecustomize.py").write_text(evil)
    expected["extra_files"] = 4

    _write(_solved(ex97_2_solution="from bwkit import hw\n\ndef ridge(peak_tflops, bandwidth_tbps):\n"
                                   "    return hw.ridge_point('B200', 'fp8')"), sub / "reference_caller" / name)
    expected["reference_caller"] = 4  # B200 FP8 happens to be 4500/8: flagged, not docked

    nb = _solved(ex97_1_solution="def area(w, h):\n    return _mul(w, h)")
    i = next(k for k, c in enumerate(nb.cells) if c.id == "ex97-1-solution")
    helper = new_code_cell("def _mul(a, b):\n    return a * b")
    helper.id = "student-helper"
    stray = new_code_cell("raise RuntimeError('scratch cell')")
    stray.id = "student-stray"
    nb.cells.insert(i + 1, helper)
    nb.cells.append(stray)
    _write(nb, sub / "helper_cell" / name)
    expected["helper_cell"] = 4

    nb = _solved()  # no cell ids (old nbformat): matched by metadata
    nb.nbformat_minor = 4
    for c in nb.cells:
        del c["id"]
    (sub / "no_ids").mkdir(parents=True)
    (sub / "no_ids" / name).write_text(json.dumps(nb), encoding="utf-8")
    expected["no_ids"] = 4

    # a scratch cell right above a solution runs with it, but its error costs nothing (it tests the function
    # the solution defines below it): the answer is graded on the solution and the check alone
    nb = _solved()
    i = next(k for k, c in enumerate(nb.cells) if c.id == "ex97-2-solution")
    scratch = new_code_cell("ridge(4500, 8.0)")
    scratch.id = "scratch-above"
    nb.cells.insert(i, scratch)
    _write(nb, sub / "scratch_above" / name)
    expected["scratch_above"] = 4

    _write(LAB, sub / "not_attempted" / name)
    expected["not_attempted"] = 0

    _write(_solved(), sub / "erin_97_fixture.ipynb")  # file-name layout
    expected["erin"] = 4

    # displays count against the output limit as prints do: a display flood is stopped, the grader's memory kept
    _write(_solved(ex97_1_solution=RIGHT["ex97-1-solution"] + "\nfrom IPython.display import display\n\n"
                   "while True:\n    display({'text/plain': 'x' * 20000}, raw=True)"), sub / "display_flood" / name)
    expected["display_flood"] = 3

    # a message with a bad signature on the kernel's channel is dropped (and said), not a grader error
    _write(_solved(ex97_3_solution='answer = "memory"\nget_ipython().kernel.iopub_socket.send_multipart('
                                   "[b'<IDS|MSG>', b'0' * 64, b'{}', b'{}', b'{}', b'{}'])"),
           sub / "forged_message" / name)
    expected["forged_message"] = 4
    return expected


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    sols = root / "solutions"
    sols.mkdir()
    nbformat.write(SOL, sols / "97_fixture.ipynb")
    sentinel = root / "PWNED"
    expected = _build_class(root, sentinel)
    t0 = time.monotonic()
    report = grading.grade(root / "subs", "97", solutions=sols, out=root / "out", workers=2,
                           options=grading.GradeOptions(timeout=TIMEOUT, memory_gib=MEMORY_GIB, cpu_seconds=60),
                           progress=False)
    return dict(root=root, report=report, expected=expected, sentinel=sentinel, seconds=time.monotonic() - t0,
                by={s.student: s for s in report.students})


def _status(graded, student):
    return {e.id: e.status for e in graded["by"][student].exercises}


def _ex(graded, student, ex):
    return next(e for e in graded["by"][student].exercises if e.id == ex)


def test_every_student_gets_a_row_with_the_exact_score(graded):
    got = {s.student: s.total for s in graded["report"].students}
    assert got == graded["expected"]
    rows = (graded["root"] / "out" / "grades.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0] == "student,97.1,97.2,97.3,total,max,notes"
    assert len(rows) == 1 + len(graded["expected"])
    assert rows[1].startswith("correct,1,2,1,4,4,")


def test_a_failing_scratch_cell_above_a_solution_costs_nothing(graded):
    e = _ex(graded, "scratch_above", "97.2")
    assert e.status == "passed" and e.points == 2
    assert "a cell you added above the solution did not run cleanly, which costs nothing" in e.detail
    assert "NameError" in e.detail


def test_correct_and_partly_wrong(graded):
    assert _status(graded, "correct") == {"97.1": "passed", "97.2": "passed", "97.3": "passed"}
    assert "✅ 97.1 area" in _ex(graded, "correct", "97.1").detail
    bad = _ex(graded, "partly_wrong", "97.2")
    assert bad.status == "check failed" and bad.points == 0
    assert "❌ 97.2 ridge point" in bad.detail and "you divided bandwidth by peak" in bad.detail


def test_timeouts_cost_only_their_exercise(graded):
    assert _status(graded, "infinite_loop") == {"97.1": "timeout", "97.2": "passed", "97.3": "passed"}
    s = _ex(graded, "stubborn_loop", "97.3")
    assert s.status == "crashed" and "ignored the timeout's interrupt" in s.detail


def test_kernel_deaths_are_diagnosed(graded):
    assert _status(graded, "os_exit") == {"97.1": "passed", "97.2": "crashed", "97.3": "passed"}
    assert "exited with code 3" in _ex(graded, "os_exit", "97.2").detail
    assert "SIGSEGV" in _ex(graded, "segfault", "97.1").detail
    hog = _ex(graded, "memory_hog", "97.1")
    assert hog.status == "crashed" and "MemoryError" in hog.detail


def test_crash_is_detected_in_seconds_not_after_the_cell_timeout(tmp_path):
    sub = tmp_path / "s.ipynb"
    _write(_solved(ex97_1_solution="import os, signal\n\nos.kill(os.getpid(), signal.SIGKILL)"), sub)
    t0 = time.monotonic()
    res = grading.grade_submission(grading.Submission("s", sub), SOL, Path("97_fixture.ipynb"),
                                   grading.GradeOptions(timeout=120, memory_gib=MEMORY_GIB, cpu_seconds=60))
    took = time.monotonic() - t0
    assert res.total == 3 and res.runs == 2
    assert "SIGKILL" in res.exercises[0].detail
    assert took < 60, f"kernel death took {took:.0f} s to detect (cell timeout 120 s)"


def test_the_labs_own_cells_get_the_lab_timeout_student_code_the_timeout(tmp_path):
    """A slow official cell (a busy machine's `bwkit.setup()`) is not stopped by a short student timeout and costs
    no points; a student's cell as slow as it is still times out. lab_timeout never shortens `timeout`."""
    sol = copy.deepcopy(SOL)
    setup = sol.cells[1]                         # imports the checks: interrupted, every exercise would fail
    setup.source = "import time\n\ntime.sleep(3)  # a slow setup\n" + setup.source
    opts = grading.GradeOptions(timeout=1, lab_timeout=30, memory_gib=MEMORY_GIB, cpu_seconds=60)
    lab = notebooks.lab_from_solution(sol)
    solved = _student(lab, **{k.replace("-", "_"): v for k, v in RIGHT.items() if "solution" in k})
    _write(solved, tmp_path / "ok.ipynb")
    res = grading.grade_submission(grading.Submission("ok", tmp_path / "ok.ipynb"), sol, Path("97_fixture.ipynb"),
                                   opts)
    assert res.total == 4 and res.runs == 1, [(e.id, e.status, e.detail) for e in res.exercises]
    slow = _student(solved, ex97_1_solution="import time\n\ndef area(w, h):\n    time.sleep(3)\n    return w * h")
    _write(slow, tmp_path / "slow.ipynb")
    res = grading.grade_submission(grading.Submission("slow", tmp_path / "slow.ipynb"), sol,
                                   Path("97_fixture.ipynb"), opts)
    assert {e.id: e.status for e in res.exercises} == {"97.1": "timeout", "97.2": "passed", "97.3": "passed"}
    assert "KeyboardInterrupt" in res.exercises[0].detail      # the check cell calling area() was interrupted
    assert grading.GradeOptions(timeout=200, lab_timeout=30).cell_timeout("lab") == 200
    assert grading.GradeOptions(timeout=5, lab_timeout=30).cell_timeout("solution") == 5
    with pytest.raises(ValueError, match="--lab-timeout"):
        grading.GradeOptions(lab_timeout=0)


def test_restored_and_abused_cells(graded):
    assert _status(graded, "edited_check")["97.2"] == "check failed"
    assert any("check cell was edited" in n for n in graded["by"]["edited_check"].notes)
    assert any("97.1: the check cell was deleted" in n for n in graded["by"]["deleted_check"].notes)
    assert _status(graded, "nbval_abuse") == {"97.1": "check failed", "97.2": "error", "97.3": "passed"}
    assert "ValueError: no idea" in _ex(graded, "nbval_abuse", "97.2").detail
    assert any("97.2: nbval markers/tags in your solution cell were ignored" in n
               for n in graded["by"]["nbval_abuse"].notes)
    assert _status(graded, "fake_outputs") == {"97.1": "not attempted", "97.2": "not attempted",
                                               "97.3": "passed"}


def test_unreadable_missing_and_extra_files(graded):
    assert "not a readable notebook" in graded["by"]["malformed"].notes[0]
    assert "no notebook" in graded["by"]["missing"].notes[0]
    assert not graded["sentinel"].exists(), "a student's conftest.py/sitecustomize/bwkit shadow was loaded"
    notes = graded["by"]["extra_files"].notes
    assert any("conftest.py" in n and "scratch.ipynb" in n for n in notes)
    assert graded["by"]["extra_files"].notebook == "97_fixture.ipynb"


def test_flags_helper_cells_ids_and_layout(graded):
    flagged = _ex(graded, "reference_caller", "97.2")
    assert flagged.points == 2 and any("bwkit.hw.ridge_point" in f for f in flagged.flags)
    assert not any(e.flags for e in graded["by"]["correct"].exercises)
    assert any("os._exit" in f for f in _ex(graded, "os_exit", "97.2").flags)
    assert any("1 code cell(s) you added outside" in n for n in graded["by"]["helper_cell"].notes)
    assert _status(graded, "not_attempted") == {k: "not attempted" for k in ("97.1", "97.2", "97.3")}


def test_reports_are_written(graded):
    out = graded["root"] / "out"
    fb = (out / "feedback" / "partly_wrong.md").read_text(encoding="utf-8")
    assert fb.startswith("# Lab 97: partly_wrong, 2 / 4 points")
    assert "## 97.2 ridge point: 0 / 2 ❌ (check failed)" in fb and "you divided bandwidth by peak" in fb
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert f"{len(graded['expected'])} submission(s), 4 points available" in summary
    assert "reference_caller, 97.2" in summary
    png = (out / "score_distribution.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000


def test_grading_copy_restores_official_cells_and_never_holds_answers():
    nb = _solved(ex97_1_solution="# NBVAL_SKIP\ndef area(w, h):\n    return w * h",
                 c005="print('edited')")
    nb.cells = [c for c in nb.cells if c.id != "c012"]
    _cell(nb, "ex97-1-solution").metadata["tags"] = ["raises-exception"]
    gc = grading.build_grading_copy(nb, SOL)
    by = {c.id: c for c in gc.nb.cells}
    assert [c.id for c in gc.nb.cells] == [c.id for c in SOL.cells]
    assert by["c005"].source == 'print("scale", SCALE)' and by["c012"].source == 'print("done")'
    assert by["ex97-1-solution"].source == "def area(w, h):\n    return w * h"
    assert "tags" not in by["ex97-1-solution"].metadata
    assert gc.cells["ex97-2-check"] == ("97.2", "check") and gc.cells["c005"] == (None, "lab")
    lab_copy = json.dumps(grading.build_grading_copy(LAB, SOL).nb)
    assert "BEGIN SOLUTION" not in lab_copy and "peak_tflops / bandwidth_tbps" not in lab_copy
    assert all(not c.get("outputs") for c in gc.nb.cells if c.cell_type == "code")


def test_bad_input_messages(tmp_path, capsys):
    sols = tmp_path / "solutions"
    sols.mkdir()
    nbformat.write(SOL, sols / "97_fixture.ipynb")
    with pytest.raises(grading.GradingError, match="unknown lab '42'.*97_fixture"):
        grading.find_lab("42", sols)
    assert grading.find_lab("97", sols).name == "97_fixture.ipynb"
    (tmp_path / "empty").mkdir()
    with pytest.raises(grading.GradingError, match="no submissions in"):
        grading.find_submissions(tmp_path / "empty", "97_fixture")
    assert cli.main(["grade", str(tmp_path / "empty"), "--lab", "97", "--solutions", str(sols)]) == 2
    assert "grade: no submissions in" in capsys.readouterr().err
    assert cli.main(["grade", str(tmp_path / "empty"), "--lab", "42", "--solutions", str(sols)]) == 2
    assert "unknown lab '42'" in capsys.readouterr().err
    assert cli.main(["grade", str(tmp_path / "nowhere"), "--lab", "97", "--solutions", str(sols)]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(ValueError, match="timeout"):
        grading.GradeOptions(timeout=0)


def test_submission_layout(tmp_path):
    for p in ["zed/work/97_fixture.ipynb", "zed/notes.ipynb", "amy/97_fixture (1).ipynb", "two/a.ipynb",
              "two/b.ipynb", "bob__final.ipynb", "kim_97_fixture.ipynb", ".hidden/97_fixture.ipynb",
              "amy/.ipynb_checkpoints/97_fixture-checkpoint.ipynb"]:
        (tmp_path / p).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / p).write_text("{}")
    subs = {s.student: s for s in grading.find_submissions(tmp_path, "97_fixture")}
    assert sorted(subs) == ["amy", "bob", "kim", "two", "zed"]
    assert subs["zed"].path.name == "97_fixture.ipynb" and subs["zed"].ignored == ["notes.ipynb"]
    assert subs["amy"].path.name == "97_fixture (1).ipynb"
    assert subs["two"].path is None and "several notebooks" in subs["two"].problem
    assert subs["kim"].path.name == "kim_97_fixture.ipynb"


def test_sandbox_mounts_the_private_tmp_before_the_kit(monkeypatch, tmp_path):
    """A kit (or venv) cloned under /tmp stays visible: bwrap mounts in order, so the tmpfs comes before the binds."""
    from bwkit.kit.grading import sandbox

    monkeypatch.setattr(sandbox, "sandbox_available", lambda: None)
    monkeypatch.setattr(sandbox, "_make_cgroup", lambda n: None)
    monkeypatch.setattr(sandbox, "_kit_lib", lambda: "/tmp/ci-clone/lib")
    cmd = sandbox.Sandbox().prefix(tmp_path)
    tmpfs = cmd.index("--tmpfs")
    assert cmd[tmpfs + 1] == "/tmp"
    binds = [i for i, a in enumerate(cmd) if a in ("--ro-bind", "--bind") and cmd[i + 1].startswith("/tmp")]
    assert binds and all(i > tmpfs for i in binds), cmd
    assert cmd[cmd.index("/tmp/ci-clone/lib") - 1] == "--ro-bind"


def test_collect_never_follows_a_students_link(tmp_path):
    """`bwkit hub collect` reads the students' homes as the grader reads submissions: links are not followed."""
    from bwkit.kit import hub

    stem = grading.find_lab("00").stem
    homes = tmp_path / "home"
    secret = tmp_path / "secret.ipynb"
    secret.write_text("the instructor's")
    for user in ("ann", "bob", "cid", "dan"):
        (homes / user / hub.LABS_DIR).mkdir(parents=True)
    (homes / "ann" / hub.LABS_DIR / f"{stem}.ipynb").write_text("ann's work")
    (homes / "bob" / hub.LABS_DIR / f"{stem}.ipynb").symlink_to(secret)
    (homes / "cid" / hub.LABS_DIR).rmdir()
    (homes / "cid" / hub.LABS_DIR).symlink_to(homes / "ann" / hub.LABS_DIR)
    (homes / "dan" / hub.LABS_DIR / f"{stem}.ipynb").mkdir()
    out = tmp_path / "subs"
    rows = {r.user: r for r in hub.collect(homes, "00", out)}
    assert {u: r.status for u, r in rows.items()} == {"ann": "copied", "bob": "missing", "cid": "missing",
                                                     "dan": "missing"}
    assert (out / "ann" / f"{stem}.ipynb").read_text() == "ann's work"
    assert "symbolic link" in rows["bob"].detail and "symbolic link" in rows["cid"].detail
    assert "not a regular file" in rows["dan"].detail
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "ann", f"ann/{stem}.ipynb", "bob", "cid", "dan"]


def test_seed_follows_links_in_the_kits_labs_only(tmp_path):
    """The labs folder seeded from is the kit's (trusted): a link there is copied as its file; the user's home is
    never written through a link, and hidden files are left out, as the grader leaves them out."""
    from bwkit.kit import hub

    src, dest = tmp_path / "labs", tmp_path / "home"
    (src / "data").mkdir(parents=True)
    (src / "00_x.ipynb").write_text("lab 00")
    (tmp_path / "shared.npz").write_text("weights")
    (src / "data" / "w.npz").symlink_to(tmp_path / "shared.npz")
    (src / "data" / ".cache").write_text("hidden")
    dest.mkdir()
    (dest / "00_x.ipynb").symlink_to(tmp_path / "elsewhere.ipynb")
    assert hub.seed_labs(dest, src) == [dest / "data" / "w.npz"]
    assert (dest / "data" / "w.npz").read_text() == "weights" and not (dest / "data" / "w.npz").is_symlink()
    assert not (tmp_path / "elsewhere.ipynb").exists()


# ------------------------------------------------------------------------- audit: isolation, limits, inputs


def test_floods_of_displays_and_forged_messages(graded):
    flood = _ex(graded, "display_flood", "97.1")
    assert flood.status == "error" and "printed too much output" in flood.detail
    assert _status(graded, "forged_message") == {"97.1": "passed", "97.2": "passed", "97.3": "passed"}
    [note] = [n for n in graded["by"]["forged_message"].notes if "malformed" in n]
    assert note.startswith("cell ex97-3-solution: 1 malformed message(s) from the kernel were dropped (ValueError")


def test_the_working_folder_is_private_and_the_environment_has_no_credentials(monkeypatch, tmp_path):
    """The kernel's folder (its IPython profile, connection file) sits in a 0700 folder of the grader's, never in a
    world-writable one; variables named like credentials never reach the kernel."""
    import stat

    from bwkit.kit.grading import runner, sandbox

    seen = {}

    class FakeKernel:
        def __init__(self, cwd, **kw):
            seen["cwd"] = Path(cwd)
            seen["modes"] = [stat.S_IMODE(p.stat().st_mode) for p in (Path(cwd), Path(cwd).parent)]
            seen["owner"] = Path(cwd).parent.stat().st_uid

        def start(self):
            raise runner.KernelStartError("not in this test")

        def log_tail(self, n=400):
            return ""

        def shutdown(self):
            pass

    monkeypatch.setattr(runner, "Kernel", FakeKernel)
    monkeypatch.setattr(sandbox, "_make_cgroup", lambda n: None)
    log = runner.run_copy(SOL, {}, {}, grading.GradeOptions(), sandbox.Sandbox(isolate=False))
    assert "did not start" in log.fatal[1]
    assert seen["modes"] == [0o700, 0o700] and seen["owner"] == os.geteuid()
    assert seen["cwd"].parent.parent == Path(tempfile.gettempdir()) and not seen["cwd"].exists()
    for k, v in {"NVIDIA_API_KEY": "nv-secret", "FOO_API_KEY": "foo", "BWKIT_HUB_TOKEN": "t", "TORCH_PASSWORD": "p",
                 "CUDA_VISIBLE_DEVICES": "0", "BWKIT_FORCE_CPU": "1"}.items():
        monkeypatch.setenv(k, v)
    env = runner._env(tmp_path)
    assert env["CUDA_VISIBLE_DEVICES"] == "0" and env["BWKIT_FORCE_CPU"] == "1"
    assert not [k for k in env if "KEY" in k or "TOKEN" in k or "PASSWORD" in k]


def test_the_sandbox_binds_only_what_it_needs_of_etc(monkeypatch, tmp_path):
    from bwkit.kit.grading import sandbox

    monkeypatch.setattr(sandbox, "_make_cgroup", lambda n: None)
    cmd = sandbox.Sandbox().prefix(tmp_path)
    bound = [cmd[i + 1] for i, a in enumerate(cmd) if a in ("--ro-bind", "--ro-bind-try", "--bind")]
    assert "/etc" not in bound and "/etc/shadow" not in bound and "/etc/passwd" in bound
    assert all(not b.startswith("/etc/") or b[5:] in sandbox.ETC_FILES for b in bound)


def test_limits_must_be_finite_and_name_their_flag(tmp_path, capsys):
    for kw, flag in [({"timeout": float("nan")}, "--timeout"), ({"memory_gib": float("inf")}, "--memory-gib"),
                     ({"cpu_seconds": 1e30}, "--cpu-limit"), ({"lab_timeout": float("nan")}, "--lab-timeout")]:
        with pytest.raises(ValueError, match=f"^{flag} must be a positive number"):
            grading.GradeOptions(**kw)
    (tmp_path / "s").mkdir()
    assert cli.main(["grade", str(tmp_path / "s"), "--lab", "00", "--timeout", "nan"]) == 2
    assert capsys.readouterr().err.startswith("grade: --timeout must be a positive number of seconds")


def test_tensor_answers_are_checked_against_their_data_and_shapes_before_conversion(monkeypatch):
    import torch

    from bwkit.kit import checks
    from bwkit.kit.exercises import codec

    bomb = {"__tensor__": {"dtype": "float32", "shape": [16384, 16384], "data": ""}}
    with pytest.raises(codec.CodecError, match="over the 64 MiB limit"):
        codec.decode(bomb)
    with pytest.raises(codec.CodecError, match="needs 16 bytes of data, got 0"):
        codec.decode({"__tensor__": {"dtype": "float32", "shape": [2, 2], "data": ""}})
    assert codec.decode(codec.encode(torch.empty(0, 3))).shape == (0, 3)
    assert torch.equal(codec.decode(codec.encode(torch.arange(6.0).reshape(2, 3))), torch.arange(6.0).reshape(2, 3))
    converted = []
    real = checks._to_array
    monkeypatch.setattr(checks, "_to_array", lambda x: converted.append(x) or real(x))
    ok, lines = checks.compare(torch.zeros(3, 2), torch.zeros(2, 3))
    assert not ok and lines[0] == "got shape [3, 2] (float32), expected shape [2, 3] (float32)"
    assert [c.shape for c in converted] == [(2, 3)], "the answer was converted before its shape was compared"


def test_every_top_level_entry_gets_a_row_and_the_output_folder_is_skipped(tmp_path):
    subs = tmp_path / "subs"
    for name in ("bob.IPYNB", "carol_97_fixture.ipynb.json", "dave.zip", "eve/Work.IPYNB"):
        (subs / name).parent.mkdir(parents=True, exist_ok=True)
        (subs / name).write_text("{}")
    out = subs / "grades-97"
    (out / "feedback").mkdir(parents=True)
    (subs / "old-run" / "feedback").mkdir(parents=True)
    for d in (out, subs / "old-run"):
        (d / "grades.csv").write_text("student\n")
        (d / "summary.md").write_text("#")
    got = {s.student: s for s in grading.find_submissions(subs, "97_fixture", skip=out)}
    assert sorted(got) == ["bob", "carol", "dave", "eve"]
    assert got["bob"].path.name == "bob.IPYNB" and got["eve"].path.name == "Work.IPYNB"
    assert got["dave"].path is None and got["dave"].problem == "dave.zip is not a notebook (.zip): not graded"
    assert got["carol"].problem == "carol_97_fixture.ipynb.json is not a notebook (.json): not graded"


def test_a_file_beside_a_notebook_never_takes_its_students_id(tmp_path):
    """carol.html sorted before carol.ipynb took the id 'carol' (a 0-point row) and moved her grade to 'carol-2';
    bob's PDF made a 0-point 'bob-2'; the instructor's README and roster became students."""
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("carol.html", "carol.ipynb", "bob_97_fixture.ipynb", "bob_97_fixture.pdf", "README.txt",
                 "roster.csv", "dan.html"):
        (subs / name).write_text("{}")
    got = {s.student: s for s in grading.find_submissions(subs, "97_fixture")}
    assert sorted(got) == ["bob", "carol", "dan"]
    assert got["carol"].path.name == "carol.ipynb" and got["bob"].path.name == "bob_97_fixture.ipynb"
    assert got["carol"].ignored == ["carol.html (beside the notebook: not graded)"]
    assert got["bob"].ignored == ["bob_97_fixture.pdf (beside the notebook: not graded)"]
    assert got["dan"].path is None and got["dan"].problem == "dan.html is not a notebook (.html): not graded"


def test_a_bad_out_fails_before_grading_in_one_line(tmp_path, capsys, monkeypatch):
    sols = tmp_path / "solutions"
    sols.mkdir()
    nbformat.write(SOL, sols / "97_fixture.ipynb")
    _write(_solved(), tmp_path / "subs" / "a.ipynb")
    (tmp_path / "afile").write_text("x")
    graded: list[str] = []                     # --out is checked before anyone (the solution included) is graded
    monkeypatch.setattr(grading, "grade_submission", lambda sub, *a, **k: graded.append(sub.student))
    for out, why in [(tmp_path / "afile", "exists and is not a folder"),
                     (tmp_path / "afile" / "out", "cannot create the output folder")]:
        assert cli.main(["grade", str(tmp_path / "subs"), "--lab", "97", "--solutions", str(sols),
                         "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("grade: ") and why in err and len(err.strip().splitlines()) == 1
    assert graded == [], "a notebook was graded before --out was checked"


def test_grades_csv_neutralizes_formulas(tmp_path):
    from bwkit.kit.grading.model import ClassReport

    exs = notebooks.exercises(SOL)
    rows = [grading.ExerciseResult(e.id, e.title, 0.0, e.points, "not run", "") for e in exs]
    students = [grading.StudentResult('=HYPERLINK("http://x","y")', None, rows, ["-2+3 is not a notebook"]),
                grading.StudentResult("@sum", None, rows, ["grader error: x\ntraceback"]),
                grading.StudentResult("plain", None, rows, ["+1"])]
    grading.write_reports(ClassReport("97", exs, students, tmp_path), tmp_path)
    import csv

    got = list(csv.reader((tmp_path / "grades.csv").open(encoding="utf-8")))[1:]
    assert [(r[0], r[-1]) for r in got] == [("'=HYPERLINK(\"http://x\",\"y\")", "'-2+3 is not a notebook"),
                                             ("'@sum", "grader error: x"), ("plain", "'+1")]


def test_copies_helpers_above_and_obfuscation_in_the_grading_copy():
    nb = _solved(ex97_2_solution="def ridge(peak_tflops, bandwidth_tbps):\n"
                                 "    return _div(peak_tflops, bandwidth_tbps)")
    i = next(k for k, c in enumerate(nb.cells) if c.id == "ex97-2-solution")
    helper = new_code_cell("def _div(a, b):\n    return a / b")
    helper.id = "helper-above"
    nb.cells.insert(i, helper)                       # under the prompt, above the exercise's cell
    late = copy.deepcopy(_cell(nb, "ex97-1-solution"))
    late.id = "scratch-copy"
    late.source = "def area(w, h):\n    return 0"
    nb.cells.append(late)                            # a copy pasted after the check to experiment
    inside = copy.deepcopy(_cell(nb, "ex97-3-solution"))
    inside.id = "fix-copy"
    inside.source = "exec(bytes.fromhex('616e73776572203d20226d656d6f727922').decode())"
    nb.cells.insert(next(k for k, c in enumerate(nb.cells) if c.id == "ex97-3-check"), inside)
    gc = grading.build_grading_copy(nb, SOL)
    order = [c.id for c in gc.nb.cells]
    assert order.index("extra-97-2-above-0") == order.index("ex97-2-solution") - 1
    assert gc.nb.cells[order.index("extra-97-2-above-0")].source == helper.source
    assert "return 0" not in json.dumps(gc.nb), "a copy after the check overrode the graded answer"
    assert any("97.1: 1 copy(ies) of its solution cell placed outside the exercise" in n for n in gc.notes)
    assert not any("added outside" in n for n in gc.notes)
    assert gc.cells["extra-97-3-0"] == ("97.3", "extra")
    assert any("exec()" in f for f in gc.flags["97.3"])
    from bwkit.kit.grading.gradingcopy import _flags_for

    [flag] = _flags_for("m = getattr(__builtins__, '__imp' + 'ort__')('bw' + 'kit.kit.exercises')", "", {})
    assert "__builtins__" in flag and "getattr() with a computed name" in flag


def test_flags_ok_of_the_definition_is_not_flagged():
    sol = nbformat.read(Path(__file__).resolve().parents[1] / "solutions" / "07_deepseek_moe.ipynb", as_version=4)
    st = notebooks.lab_from_solution(sol)
    for c in st.cells:
        if c.get("id") == "ex07-8-solution":
            c.source = ("def moe_layer_output(x, pair_out, topk_weights, shared_w1, shared_w3, shared_w2):\n"
                        "    return moe.combine(pair_out, topk_weights, x.shape[0]) + "
                        "moe.swiglu(x, shared_w1, shared_w3, shared_w2)")
    assert grading.build_grading_copy(st, sol).flags["07.8"] == []


def test_added_cells_share_one_time_budget(tmp_path):
    """Added cells each just under the timeout cannot stretch a run without bound: together they get 3 timeouts."""
    nb = _solved()
    i = next(k for k, c in enumerate(nb.cells) if c.id == "ex97-1-check")
    for j in range(10):                  # 5 s in all, each well under the 1 s timeout
        c = new_code_cell("import time\ntime.sleep(0.5)")
        c.id = f"stall-{j}"
        nb.cells.insert(i, c)
    _write(nb, tmp_path / "s.ipynb")
    t0 = time.monotonic()
    res = grading.grade_submission(grading.Submission("s", tmp_path / "s.ipynb"), SOL, Path("97_fixture.ipynb"),
                                   grading.GradeOptions(timeout=1, lab_timeout=30, memory_gib=MEMORY_GIB,
                                                        cpu_seconds=60))
    assert {e.id: e.status for e in res.exercises} == {"97.1": "timeout", "97.2": "passed", "97.3": "passed"}
    assert "shared time budget of 3 s" in res.exercises[0].detail
    assert time.monotonic() - t0 < 30


def test_an_official_cell_failing_before_student_code_is_the_graders_problem(tmp_path, capsys):
    """Limits too tight for the lab's own setup: the official solution is graded first and the class refused
    (exit 2); forced with --no-solution-check, every student is told it is not their fault."""
    sol = copy.deepcopy(SOL)
    sol.cells[1].source = ("import resource\n_lim = min(v for v in (resource.getrlimit(resource.RLIMIT_AS)[0], "
                           "resource.getrlimit(resource.RLIMIT_DATA)[0]) if v >= 0)\n"
                           "assert _lim > 2.5 * 2**30, 'the lab needs 2.5 GiB'\n" + sol.cells[1].source)
    sols = tmp_path / "solutions"
    sols.mkdir()
    nbformat.write(sol, sols / "97_fixture.ipynb")
    _write(_student(notebooks.lab_from_solution(sol), **{k.replace("-", "_"): v for k, v in RIGHT.items()
                                                        if "solution" in k}), tmp_path / "subs" / "ann.ipynb")
    args = ["grade", str(tmp_path / "subs"), "--lab", "97", "--solutions", str(sols), "--out", str(tmp_path / "o"),
            "--memory-gib", "2", "--timeout", "10"]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert "grade: the official solution scores 0/4 under these limits" in err and "--memory-gib 2" in err
    assert not (tmp_path / "o" / "grades.csv").exists()
    assert cli.main(args + ["--no-solution-check"]) == 0
    import csv

    [_, row] = list(csv.reader((tmp_path / "o" / "grades.csv").open(encoding="utf-8")))
    assert row[:6] == ["ann", "0", "0", "0", "0", "4"]
    assert row[6].startswith("GRADER PROBLEM: the lab's own cell c001 failed twice before any of your code ran "
                             "(error: AssertionError: the lab needs 2.5 GiB)") and "your code may" not in row[6]
    fb = (tmp_path / "o" / "feedback" / "ann.md").read_text(encoding="utf-8")
    assert "(not your fault)" in fb and "your code may have broken" not in fb
