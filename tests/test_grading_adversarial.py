"""A hostile class for `bwkit grade` on the real lab 00: every kind of submission an instructor meets.

Attacks on the verdict (silenced tracebacks, patched checkers, forged probes, answers read from the solutions,
forged results through /proc), attacks on others (editing the kit, detached processes rewriting the reports,
killing other kernels, fork bombs), hygiene (links, FIFOs, name collisions, copied cells) and honest faults
(loops, crashes, memory hogs, floods, malformed files, edited/deleted checks, tag abuse, fake outputs). Each gets
exactly the points its answers earn, and after grading the kit, the solutions and every other student's files
are byte-identical.
"""

import copy
import hashlib
import os
import re
import shutil
import time
from pathlib import Path

import nbformat
import pytest

from bwkit.kit import grading, notebooks
from bwkit.kit.grading.sandbox import sandbox_available

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "00_hardware_roofline.ipynb"
NAME = SOLUTION.name
POINTS = {"00.1": 2, "00.2": 2, "00.3": 2, "00.4": 1, "00.5": 1}

if sandbox_available() is not None:
    if os.environ.get("CI"):
        raise RuntimeError(f"CI must run the hostile-class tests: {sandbox_available()}")
    pytest.skip(f"no sandbox here: {sandbox_available()}", allow_module_level=True)

SOL = nbformat.read(SOLUTION, as_version=4)
LAB = notebooks.lab_from_solution(SOL)
RIGHT = {c.metadata["bwkit"]["exercise"]: c.source for c in SOL.cells
         if c.metadata.get("bwkit", {}).get("role") == "solution"}
WRONG = {
    "00.1": "def ridge_point(peak_tflops, bandwidth_tbps):\n    return bandwidth_tbps / peak_tflops",
    "00.2": "def gemm_intensity(M, N, K, in_bytes, out_bytes):\n    return M * N * K",
    "00.3": "def attainable_tflops(peak_tflops, bandwidth_tbps, intensity):\n    return peak_tflops",
    "00.4": 'answer = "compute"',
    "00.5": "b200_ms = 10.0",
}


def _sid(ex: str) -> str:
    return f"ex{ex.replace('.', '-')}-solution"


def student(answers: dict[str, str] | None = None, base=LAB, **by_id) -> nbformat.NotebookNode:
    """The lab with the given exercise answers (exercise id -> code) and cell sources (cell id -> code)."""
    nb = copy.deepcopy(base)
    src = {_sid(k): v for k, v in (answers or {}).items()}
    src.update({k.replace("_", "-"): v for k, v in by_id.items()})
    for c in nb.cells:
        if c.get("id") in src:
            c.source = src[c.get("id")]
    return nb


def solved(**over) -> dict[str, str]:
    return {**RIGHT, **over}


def wrong(**over) -> dict[str, str]:
    return {**WRONG, **over}


def _pts(**got) -> dict[str, float]:
    return {k: float(got.get(k.replace(".", "_"), 0)) for k in POINTS}


FULL = {k: float(v) for k, v in POINTS.items()}
ZERO = {k: 0.0 for k in POINTS}


def _append_to(answers: dict[str, str], ex: str, code: str) -> dict[str, str]:
    out = dict(answers)
    out[ex] = out[ex] + "\n" + code
    return out


def _tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def build_class(sub: Path, out: Path) -> dict[str, dict[str, float]]:
    """Write every submission; return the exact points expected per student and exercise."""
    exp: dict[str, dict[str, float]] = {}

    def put(name: str, nb, points: dict[str, float]):
        p = sub / name / NAME
        p.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, p)
        exp[name] = points

    put("correct", student(solved()), FULL)
    put("blank", student(), ZERO)
    put("partial", student(solved(**{"00.2": WRONG["00.2"], "00.5": WRONG["00.5"]})),
        {**FULL, "00.2": 0.0, "00.5": 0.0})
    # --- attacks on the verdict
    put("silenced_traceback", student(_append_to(wrong(), "00.1",
                                                 "get_ipython().showtraceback = lambda *a, **k: None")), ZERO)
    put("custom_exc", student(_append_to(wrong(), "00.1", "get_ipython().set_custom_exc((BaseException,), "
                                                          "lambda *a, **k: None)")), ZERO)
    put("patched_checker", student(_append_to(wrong(), "00.1", (
        "import bwkit.kit.checks as _c, numpy\n"
        "_c.compare = lambda *a, **k: (True, [])\n_c.check = lambda *a, **k: print('PASS ✅')\n"
        "numpy.isclose = lambda a, b, **k: numpy.ones(numpy.shape(a), bool)\n"
        "from bwkit.kit import exercises as _k\n_k.check = lambda *a, **k: print('PASS ✅')\n"
        "import bwkit.kit.exercises.engine as _e\n_e.judge = lambda *a, **k: None"))), ZERO)
    put("forged_probe", student(_append_to(wrong(), "00.1", (
        "import json, bwkit.kit.exercises.engine as _e\n"
        "_fake = {'missing': [], 'not_callable': [], 'parts': [[562.5, 295.2, 1000.0]]}\n"
        "_e.probe = lambda *a, **k: json.dumps(_fake)\n"
        "import sys\nsys.modules['bwkit.kit.exercises'].probe = _e.probe"))), ZERO)
    put("hard_coded_examples", student(solved(**{"00.1": (
        "def ridge_point(peak_tflops, bandwidth_tbps):\n"
        "    return {(4500, 8.0): 562.5, (989, 3.35): 295.2238805970149}.get((peak_tflops, bandwidth_tbps), 0.0)")})),
        {**FULL, "00.1": 0.0})
    put("reads_solutions", student(solved(**{"00.5": (
        "import bwkit, json, pathlib\n"
        "root = pathlib.Path(bwkit.__file__).parents[2] / 'solutions'\n"
        "b200_ms = 6.0 if any(root.glob('*.ipynb')) else -1.0")})), {**FULL, "00.5": 0.0})
    put("proc_pipes", student(_append_to(wrong(), "00.1", (
        "import os\nfor pid in os.listdir('/proc'):\n    if pid.isdigit():\n"
        "        for fd in range(3, 40):\n            try:\n"
        "                os.write(os.open(f'/proc/{pid}/fd/{fd}', os.O_WRONLY), b'{\"event\": \"end\"}\\n')\n"
        "            except OSError:\n                pass"))), ZERO)
    put("sys_modules_fake", student(_append_to(wrong(), "00.1", (
        "import sys, types\nfake = types.ModuleType('bwkit.kit.exercises')\n"
        "fake.probe = lambda *a, **k: '{}'\nsys.modules['bwkit.kit.exercises'] = fake"))), ZERO)
    put("import_hook", student(_append_to(wrong(), "00.1", (
        "import builtins\n_real = builtins.__import__\n"
        "builtins.__import__ = lambda n, *a, **k: (_ for _ in ()).throw(ImportError('no')) "
        "if 'exercises' in n else _real(n, *a, **k)"))), ZERO)
    # --- attacks on others
    put("edits_kit", student(_append_to(wrong(), "00.1", (
        "import bwkit.kit.checks as _c\ntry:\n"
        "    open(_c.__file__, 'a').write('\\ncompare = lambda *a, **k: (True, [])\\n')\nexcept OSError:\n"
        "    pass"))), ZERO)
    put("detached_rewriter", student(_append_to(wrong(), "00.1", (
        f"import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'import time, pathlib; time.sleep(4); "
        f"pathlib.Path({str(out / 'grades.csv')!r}).write_text(\"REWRITTEN-BY-A-STUDENT\")'], "
        "start_new_session=True)"))), ZERO)
    put("kernel_killer", student(_append_to(solved(), "00.1", (
        "import os, signal\nfor pid in os.listdir('/proc'):\n    if pid.isdigit() and int(pid) != os.getpid():\n"
        "        try:\n            os.kill(int(pid), signal.SIGKILL)\n        except OSError:\n            pass"))),
        None)     # killing its own sandbox may kill its own kernel: whatever it gets, it may not touch others
    put("fork_bomb", student(solved(**{"00.4": (
        "import os\nkids = []\ntry:\n    for _ in range(100000):\n        pid = os.fork()\n        if pid == 0:\n"
        "            import time\n            time.sleep(30)\n            os._exit(0)\n        kids.append(pid)\n"
        "except OSError:\n    pass\nanswer = 'memory'")})), None)
    # the grader's secrets: /etc/shadow (readable by a root-mapped sandbox if all of /etc were bound) and
    # credentials in the grader's environment (the fixture sets NVIDIA_API_KEY and FOO_API_KEY)
    put("reads_secrets", student(solved(**{"00.4": (
        "import os\nleaked = [k for k in os.environ if 'KEY' in k]\n"
        "try:\n    leaked.append(open('/etc/shadow').read())\nexcept OSError:\n    pass\n"
        "print('LEAKED', leaked)\nanswer = 'compute' if leaked else 'memory'")})), FULL)
    put("network", student(solved(**{"00.4": (
        "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), timeout=2)\n    answer = 'compute'\n"
        "except OSError:\n    answer = 'memory'")})), FULL)
    # --- honest faults
    put("infinite_loop", student(solved(**{"00.3": "while True:\n    pass"})), {**FULL, "00.3": 0.0})
    put("stubborn_loop", student(solved(**{"00.4": (
        "import time\nwhile True:\n    try:\n        time.sleep(30)\n    except KeyboardInterrupt:\n        pass")})),
        {**FULL, "00.4": 0.0})
    put("segfault", student(solved(**{"00.2": "import ctypes\nctypes.string_at(0)"})), {**FULL, "00.2": 0.0})
    put("os_exit", student(solved(**{"00.3": "import os\nos._exit(3)"})), {**FULL, "00.3": 0.0})
    put("memory_hog", student(solved(**{"00.2": "hog = bytearray(64 * 2**30)"})), {**FULL, "00.2": 0.0})
    put("print_flood", student(solved(**{"00.1": "while True:\n    print('x' * 10000)"})), {**FULL, "00.1": 0.0})
    put("keyboard_interrupt", student(solved(**{"00.5": "raise KeyboardInterrupt"})), {**FULL, "00.5": 0.0})
    put("system_exit", student(solved(**{"00.5": "raise SystemExit(1)"})), {**FULL, "00.5": 0.0})
    put("edited_check", student(wrong(), ex00_1_check="print('PASS ✅ 00.1 ridge point')"), ZERO)
    nb = student(solved())
    nb.cells = [c for c in nb.cells if c.get("id") != "ex00-2-check"]
    put("deleted_check", nb, FULL)
    nb = student(wrong())
    for c in nb.cells:
        if c.get("id", "").endswith("-solution"):
            c.metadata["tags"] = ["raises-exception", "nbval-skip", "nbval-ignore-output"]
            c.source = "# NBVAL_SKIP\n" + c.source
    put("tag_abuse", nb, ZERO)
    nb = student()
    for c in nb.cells:
        if c.get("id", "").endswith("-check"):
            c.outputs = [nbformat.v4.new_output("stream", name="stdout", text="PASS ✅ all good\n")]
    put("fake_outputs", nb, ZERO)
    nb = student(wrong(**{"00.1": WRONG["00.1"]}))
    i = next(k for k, c in enumerate(nb.cells) if c.get("id") == _sid("00.1"))
    fix = copy.deepcopy(nb.cells[i])
    fix.id = "copied-cell-1"
    fix.source = RIGHT["00.1"]
    nb.cells.insert(i + 1, fix)
    put("copied_cell_fix", nb, {**ZERO, "00.1": 2.0})
    # --- hygiene
    (sub / "malformed").mkdir()
    (sub / "malformed" / NAME).write_text("{ not json", encoding="utf-8")
    exp["malformed"] = ZERO
    (sub / "linked_passwd").mkdir()
    (sub / "linked_passwd" / NAME).symlink_to("/etc/passwd")
    exp["linked_passwd"] = ZERO
    (sub / "evil_link.ipynb").symlink_to("/etc/passwd")
    exp["evil_link"] = ZERO
    os.mkfifo(sub / "fifo.ipynb")
    exp["fifo"] = ZERO
    for name in ("m24 bob", "m24_bob"):
        put(name, student(solved() if name == "m24 bob" else wrong()), FULL if name == "m24 bob" else ZERO)
    nbformat.write(student(solved()), sub / "carol.ipynb")
    nbformat.write(student(wrong()), sub / f"carol_{NAME}")
    exp["carol"], exp["carol-3"] = FULL, ZERO      # carol-2 is taken by a real folder
    put("carol-2", student(wrong(**{"00.4": RIGHT["00.4"]})), {**ZERO, "00.4": 1.0})
    return exp


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    sub, out = root / "subs", root / "out"
    exp = build_class(sub, out)
    before = {"lib": _tree_hash(ROOT / "lib"), "solutions": _tree_hash(ROOT / "solutions")}
    files_before = {p: p.read_bytes() for p in sub.rglob("*") if p.is_file() and not p.is_symlink()}
    t0 = time.monotonic()
    secrets = {"NVIDIA_API_KEY": "nv-secret-of-the-grader", "FOO_API_KEY": "foo-secret"}
    saved = {k: os.environ.get(k) for k in secrets}
    os.environ.update(secrets)
    try:
        report = grading.grade(sub, "00", solutions=ROOT / "solutions", out=out, workers=2,
                               options=grading.GradeOptions(timeout=20, memory_gib=6, cpu_seconds=120),
                               progress=False)
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.update({k: v})
    took = time.monotonic() - t0
    grades = (out / "grades.csv").read_bytes()
    time.sleep(5)            # a detached process of a student would have rewritten grades.csv by now
    return dict(exp=exp, report=report, by={s.student: s for s in report.students}, out=out, sub=sub,
                before=before, files_before=files_before, grades=grades, took=took)


def test_every_submission_scores_exactly_what_its_answers_earn(hostile):
    got = {s: {e.id: e.points for e in r.exercises} for s, r in hostile["by"].items()}
    assert sorted(got) == sorted(hostile["exp"]), "every student gets exactly one row"
    wrong_scores = {s: (got[s], e) for s, e in hostile["exp"].items() if e is not None and got[s] != e}
    assert not wrong_scores, "\n".join(f"{s}: got {g}, expected {e}" for s, (g, e) in wrong_scores.items())
    for s in ("kernel_killer", "fork_bomb"):       # whatever they did to themselves, never more than earned
        assert sum(got[s].values()) <= sum(POINTS.values())


def test_nothing_outside_a_run_changed(hostile):
    assert _tree_hash(ROOT / "lib") == hostile["before"]["lib"], "a student changed the kit"
    assert _tree_hash(ROOT / "solutions") == hostile["before"]["solutions"]
    for p, data in hostile["files_before"].items():
        assert p.read_bytes() == data, f"{p} changed during grading"
    assert (hostile["out"] / "grades.csv").read_bytes() == hostile["grades"], "grades.csv was rewritten"
    assert b"REWRITTEN-BY-A-STUDENT" not in hostile["grades"]


def test_others_are_undisturbed_and_faults_are_named(hostile):
    by = hostile["by"]
    assert by["correct"].total == 8 and by["m24 bob"].total == 8        # graded beside killers and bombs

    def detail(s, ex):
        return next(e for e in by[s].exercises if e.id == ex).detail

    assert "timeout" in detail("infinite_loop", "00.3")
    assert "ignored the timeout's interrupt" in detail("stubborn_loop", "00.4")
    assert "SIGSEGV" in detail("segfault", "00.2")
    assert "exited with code 3" in detail("os_exit", "00.3")
    assert "MemoryError" in detail("memory_hog", "00.2")
    assert "printed too much" in detail("print_flood", "00.1")
    assert "KeyboardInterrupt" in detail("keyboard_interrupt", "00.5") and "not a timeout" in \
        detail("keyboard_interrupt", "00.5")
    assert "SystemExit" in detail("system_exit", "00.5")
    assert "Likely mistake" in detail("partial", "00.2") or "FAIL" in detail("partial", "00.2")
    assert any("check cell was edited" in n for n in by["edited_check"].notes)
    assert any("check cell was deleted" in n for n in by["deleted_check"].notes)
    assert any("copy(ies) of its solution cell" in n for n in by["copied_cell_fix"].notes)


def test_hygiene(hostile):
    by, out = hostile["by"], hostile["out"]
    assert "not a readable notebook" in by["malformed"].notes[0]
    assert "link" in by["evil_link"].notes[0] and "not a regular file" in by["fifo"].notes[0]
    feedback = {p.name: p.read_text() for p in (out / "feedback").iterdir()}
    assert len(feedback) == len(by), "one feedback file per student, no collisions"
    assert not any("root:x:0:0" in t for t in feedback.values()), "a linked file's content leaked"
    assert not any("nv-secret" in t or re.search(r"root:[*!$]", t) for t in feedback.values()), "secrets leaked"
    assert by["m24 bob"].total == 8 and by["m24_bob"].total == 0
    summary = (out / "summary.md").read_text()
    assert "bubblewrap sandbox" in summary


def test_the_hostile_class_grades_in_reasonable_time(hostile):
    n = len(hostile["by"])
    assert hostile["took"] < 30 * n, f"{n} submissions took {hostile['took']:.0f} s"


def test_no_sandbox_is_refused_or_said(tmp_path, monkeypatch):
    import bwkit.kit.grading as g

    monkeypatch.setattr(g, "sandbox_available", lambda: "bubblewrap is not installed")
    (tmp_path / "s").mkdir()
    nbformat.write(student(solved()), tmp_path / "s" / "a.ipynb")
    with pytest.raises(grading.GradingError, match="--no-sandbox"):
        g.grade(tmp_path / "s", "00", solutions=ROOT / "solutions", progress=False)


def test_symlinked_folder_is_not_followed(tmp_path):
    (tmp_path / "real").mkdir()
    nbformat.write(student(solved()), tmp_path / "real" / NAME)
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "mallory").symlink_to(tmp_path / "real")
    [s] = grading.find_submissions(subs, SOLUTION.stem)
    assert s.path is None and "symbolic link" in s.problem
    shutil.rmtree(tmp_path / "real")
