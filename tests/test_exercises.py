"""The exercise definitions (bwkit.kit.exercises) against the labs: one definition per exercise, named answers,
self-contained check cells of one standard form, and the engine's own rules (codec round trip, verdicts)."""

import math
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from bwkit.kit import notebooks
from bwkit.kit.checks import CheckFailure, NotAnswered
from bwkit.kit.exercises import Case, Exercise, Function, Mistake, Value, codec, get, lab_exercises, run

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))


def _cells(path):
    nb = nbformat.read(path, as_version=4)
    return nb, notebooks.exercises(nb, path)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_every_exercise_has_one_definition(path):
    nb, exs = _cells(path)
    lab = path.name[:2]
    defined = {e.id: e for e in lab_exercises(lab)}
    assert sorted(defined) == sorted(e.id for e in exs), f"{path.name}: notebook exercises vs definitions"
    for e in exs:
        assert defined[e.id].title == e.title, f"{e.id}: title {defined[e.id].title!r} vs notebook {e.title!r}"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_check_cells_are_one_standard_line(path):
    nb, exs = _cells(path)
    by_id = {c.get("id"): c for c in nb.cells}
    for e in exs:
        src = by_id[e.check_cell].source.strip()
        assert src == f'from bwkit.kit.exercises import check\n\ncheck("{e.id}")', f"{e.id}: check cell is\n{src}"


def _prompt(nb, ex) -> str:
    """The markdown a learner reads for an exercise: from the cell after the previous code cell to its solution."""
    first = next(i for i, c in enumerate(nb.cells) if c.get("id") == ex.solution_cells[0])
    i = first - 1
    text = []
    while i >= 0 and nb.cells[i].cell_type == "markdown":
        text.insert(0, nb.cells[i].source)
        i -= 1
    sol = [c.source for c in nb.cells if c.get("id") in ex.solution_cells]
    return "\n".join(text + [s for s in sol if s.lstrip().startswith("#") or "def " in s])


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_prompts_name_what_the_check_reads(path):
    nb, exs = _cells(path)
    problems = []
    for e in exs:
        prompt = _prompt(nb, e)
        for a in get(e.id).reads:
            if not re.search(rf"`{re.escape(a.name)}\b", prompt):
                problems.append(f"{e.id}: the prompt never names `{a.name}` in backticks")
            if a.unit and a.unit not in prompt:
                problems.append(f"{e.id}: the prompt never gives the unit of `{a.name}` ({a.unit})")
            if a.kind == "value" and a.type and a.type.split()[0] not in prompt:
                problems.append(f"{e.id}: the prompt never gives the type of `{a.name}` ({a.type})")
            for o in a.options:
                if o not in prompt:
                    problems.append(f"{e.id}: the prompt never lists option {o!r} of `{a.name}`")
    assert not problems, "\n".join(problems)


def test_codec_round_trip():
    x = {"a": (1, 2.5, float("nan"), float("inf")), 3: [torch.arange(6, dtype=torch.int16).reshape(2, 3),
                                                       torch.tensor(1.5, dtype=torch.float64)],
         "fp8": torch.tensor([1.0, -2.0]).to(torch.float8_e4m3fn), "np": np.arange(4.0), "s": np.float32(2.0),
         "empty": torch.zeros(0, 3), "none": None, "big": 2**70}
    y = codec.loads(codec.dumps(x))
    assert y["a"][:2] == (1, 2.5) and math.isnan(y["a"][2]) and y["a"][3] == float("inf")
    assert torch.equal(y[3][0], x[3][0]) and y[3][0].dtype == torch.int16 and y[3][1].shape == ()
    assert torch.equal(y["fp8"].float(), x["fp8"].float()) and y["fp8"].dtype == torch.float8_e4m3fn
    assert np.array_equal(y["np"], x["np"]) and y["s"] == 2.0 and y["empty"].shape == (0, 3)
    assert y["none"] is None and y["big"] == 2**70
    assert isinstance(codec.loads(codec.dumps(object())), codec.Opaque)


def test_codec_refuses_what_is_not_data():
    with pytest.raises(codec.CodecError, match="only bwkit dataclasses"):
        codec.loads('{"__dataclass__": "os:system", "fields": {}}')
    with pytest.raises(codec.CodecError):
        codec.loads('{"__pickle__": "x"}')
    with pytest.raises(codec.CodecError):
        codec.loads("not json")


_EX = Exercise.single("99.1", "double it", reads=Function("double", "(x: float) -> float"),
                      cases=lambda rng: [Case((1.0,), "one"), Case((rng.uniform(2, 9),), "random")],
                      expected=lambda x: 2 * x, rtol=1e-9,
                      mistakes=[Mistake("you squared it", value=lambda x: x * x),
                                Mistake("you halved it", ratio=0.25),
                                Mistake("you returned a string", when=lambda got, want, x: isinstance(got, str)),
                                Mistake("the input was a string", error="TypeError")],
                      hint="multiply by two")
_VAL = Exercise.single("99.2", "a value", reads=Value("ms", "float", "ms"), expected=lambda: 6.0, rtol=1e-3,
                       mistakes=[Mistake("seconds", ratio=1e-3)])
_CHOICE = Exercise.choice("99.3", "a choice", "pick", ["a", "b", "c"], answer="b",
                          wrong={"a": "a is the first letter", "c": "c is the last"}, hint="the middle one")


@pytest.fixture(autouse=True, scope="module")
def _registered():
    from bwkit.kit.exercises import register

    register(_EX, _VAL, _CHOICE)


def test_engine_verdicts():
    assert run("99.1", {"double": lambda x: x + x}).ok
    assert run("99.1", {"double": lambda x: np.float32(2 * x)}).ok          # another numeric type passes
    v = run("99.1", {"double": lambda x: x * x})
    assert not v.ok and "squared" in v.text()                               # diagnosed by behaviour
    assert "halved" in run("99.1", {"double": lambda x: x / 2}).text()
    assert "Hint: multiply by two" in run("99.1", {"double": lambda x: x + 3}).text()
    assert "raised ZeroDivisionError" in run("99.1", {"double": lambda x: 1 / 0}).text()
    assert "not defined" in run("99.1", {}).text()
    assert "is a float, but this check calls it" in run("99.1", {"double": 2.0}).text()
    v = run("99.2", {"ms": 0.006})
    assert "seconds" in v.text() and v.diagnosed
    with pytest.raises(NotAnswered):
        run("99.1", {"double": lambda x: (_ for _ in ()).throw(NotImplementedError(
            "Exercise 99.1 (double it): write your code here"))}).show()
    assert not run("99.1", {"double": lambda x: (_ for _ in ()).throw(NotImplementedError("stub"))}).not_answered
    with pytest.raises(CheckFailure) as e:
        run("99.2", {"ms": "6"}).show()
    assert e.value._render_traceback_()[0] == "FAIL ❌ 99.2 a value" and "drop the quotes" in str(e.value)


def test_every_wrong_part_gets_its_own_diagnosis():
    """A multi-part exercise wrong in two parts names both mistakes, each with its part (09.4: three scenarios)."""
    v = run("09.4", {"scenario_a": "progress", "scenario_b": "race", "scenario_c": "race"})
    text = v.text()
    assert not v.ok and v.diagnosed
    said = [line.strip() for line in text.splitlines() if "Likely mistake" in line]
    assert len(said) == 2 and said[0].startswith("Likely mistake (scenario a): ") \
        and said[1].startswith("Likely mistake (scenario c): "), text
    one = run("09.4", {"scenario_a": "progress", "scenario_b": "race", "scenario_c": "progress"}).text()
    assert "Likely mistake: " in one and "Likely mistake (" not in one       # one wrong part: the plain form


def test_choice_exercises():
    """`Exercise.choice`: the right option passes, each wrong one gets its diagnosis, a bad declaration is refused."""
    v = run("99.3", {"pick": " B "})
    assert v.ok                                                             # case- and space-insensitive
    v = run("99.3", {"pick": "c"})
    assert not v.ok and v.diagnosed and "Likely mistake: c is the last" in v.text() and _CHOICE.hint == "the middle one"
    assert "a is the first letter" in run("99.3", {"pick": "a"}).text()
    assert _CHOICE.reads[0].kind == "choice" and _CHOICE.reads[0].options == ("a", "b", "c")
    computed = Exercise.choice("99.4", "computed", "pick", ["a", "b"], answer=lambda: "a", wrong={"b": "no"})
    assert computed.parts[0].expected() == "a"
    with pytest.raises(ValueError, match=re.escape("exercise 99.4: ['d'] not among the options ('a', 'b')")):
        Exercise.choice("99.4", "bad", "pick", ["a", "b"], answer="d", wrong={})
    with pytest.raises(ValueError, match=re.escape("['z'] not among the options")):
        Exercise.choice("99.4", "bad", "pick", ["a", "b"], answer="a", wrong={"z": "?"})


def test_learner_mutating_inputs_does_not_move_the_reference():
    def double(t):
        r = 2 * t
        t.mul_(0)
        return r

    ex = Exercise.single("99.3", "tensor", reads=Function("double", "(t: Tensor) -> Tensor"),
                         cases=[Case((torch.ones(3),))], expected=lambda t: 2 * t)
    from bwkit.kit.exercises import register

    register(ex)
    assert run("99.3", {"double": double}).ok


def test_cases_that_must_raise():
    from bwkit.kit.exercises import register

    def ref(m):
        if m not in (64, 128):
            raise ValueError(m)
        return m // 2

    ex = Exercise.single("99.4", "raise on a bad tile", reads=Function("half", "(m: int) -> int"),
                         cases=[Case((128,)), Case((256,), "one CTA", raises="ValueError",
                                                   text="half(256) on one CTA")],
                         expected=ref,
                         mistakes=[Mistake("M=256 needs a CTA pair: raise ValueError",
                                           when=lambda got, want, m: m == 256
                                           and not isinstance(got, codec.AnswerError), sees_errors=True)])
    register(ex)
    assert run("99.4", {"half": ref}).ok
    v = run("99.4", {"half": lambda m: m // 2})
    assert not v.ok and "half(256) on one CTA [one CTA]: returned 128; these inputs must raise ValueError" in v.text()
    assert "CTA pair" in v.text()
    assert "expected ValueError" in run("99.4", {"half": lambda m: 1 // 0 if m == 256 else m // 2}).text()


def test_answers_that_once_broke_the_check_get_a_verdict():
    """NumPy NaN scalars, ints past float's range, huge or expanded tensors and the learner's torch defaults: each
    gets a verdict (no traceback into bwkit), and a huge answer is refused before it is copied."""
    import time

    from bwkit.kit.exercises import register

    ex = Exercise.single("99.6", "mean", reads=Function("mean", "(t: Tensor) -> float"),
                         cases=lambda rng: [Case((torch.randn(8, generator=torch.Generator().manual_seed(1)),))],
                         expected=lambda t: float(t.double().mean()), rtol=1e-6)
    register(ex)
    v = run("99.6", {"mean": lambda t: np.mean(np.array([]))})          # np.float64('nan'): repr 'np.float64(nan)'
    assert not v.ok and "got nan" in v.text()
    v = run("99.6", {"mean": lambda t: math.comb(256, 8) ** 40})
    assert not v.ok and "too large for a float" in v.text()
    t0 = time.perf_counter()
    v = run("99.6", {"mean": lambda t: torch.zeros(1).expand(2**27)})  # 4 bytes of storage, 512 MiB to encode
    assert not v.ok and "512.0 MiB" in v.text() and "at most 64 MiB" in v.text()
    assert time.perf_counter() - t0 < 2                               # refused from the shape, never copied
    v = run("99.6", {"mean": lambda t: torch.zeros([1] * 40)})        # carried, not read back: told, not raised
    assert not v.ok and "FAIL" in v.text()
    before = torch.get_default_dtype()
    try:
        torch.set_default_dtype(torch.float64)                        # the learner's setting
        assert run("99.6", {"mean": lambda t: float(t.mean())}).ok    # the inputs and reference are the kit's
        assert torch.get_default_dtype() == torch.float64             # ... and the learner's setting is back
    finally:
        torch.set_default_dtype(before)


def test_an_interrupted_check_says_so_in_one_line():
    from bwkit.kit.exercises import CheckInterrupted, check

    def stuck(x):
        raise KeyboardInterrupt                                       # what Kernel > Interrupt raises
    with pytest.raises(CheckInterrupted) as e:
        check("99.1", {"double": stuck})
    assert isinstance(e.value, KeyboardInterrupt)
    lines = e.value._render_traceback_()
    assert len(lines) == 1 and lines[0].startswith("⏹ 99.1: interrupted") and "nothing was checked" in lines[0]


def test_lab_modules_come_from_the_catalogue():
    """One lab module per lab of `bwkit.kit.catalog.LABS` (not a probe of guessed numbers), each defining its lab."""
    import importlib.util

    from bwkit.kit.catalog import LABS
    from bwkit.kit.exercises import LAB_MODULES

    assert list(LAB_MODULES) == [lab.number for lab in LABS]
    for number, module in LAB_MODULES.items():
        assert importlib.util.find_spec(module) is not None, module
        assert lab_exercises(number), f"{module} defines no exercise"


def test_a_value_mistake_needs_a_failing_input_it_explains():
    """An answer that raises on the inputs where the mistake model differs from the reference, and is right on the
    one where they agree (x = 2: 2x = x*x), was named "you squared it" by that passing input alone."""
    ex = Exercise.single("99.4", "double it (2)", reads=Function("double2", "(x: float) -> float"),
                         cases=lambda rng: [Case((2.0,), "two"), Case((3.0,), "three")],
                         expected=lambda x: 2 * x, rtol=1e-9,
                         mistakes=[Mistake("you squared it", value=lambda x: x * x)], hint="multiply by two")
    from bwkit.kit.exercises import register

    register(ex)
    v = run("99.4", {"double2": lambda x: 4.0 if x == 2 else 1 / 0})
    assert not v.ok and "squared" not in v.text() and "Hint: multiply by two" in v.text()
    assert "squared" in run("99.4", {"double2": lambda x: x * x}).text()     # a failing input still names it


def test_answer_forms_that_look_right_say_what_is_off():
    from bwkit.kit.checks import compare

    ok, why = compare((6.0,), 6.0)
    assert not ok and "1-element tuple" in why[0] and "trailing comma" in why[0]
    ok, why = compare([6], 6)
    assert not ok and "drop the brackets" in why[0]
    assert compare(np.array([6.0]), 6.0)[0] and compare(torch.tensor([6.0]), 6.0)[0]   # tensors keep passing
    ok, why = compare("True", True)
    assert not ok and "expected True or False (a bool): drop the quotes" in why[0]
    x = -0.22430412345
    ok, why = compare(float(np.float32(x)), x, rtol=1e-9)      # a float32 round trip: six digits print the same
    assert not ok and why[0].startswith("got -0.2243041") and "expected -0.2243041" in why[0]
    got, want = why[0].split()[1].rstrip(","), why[0].split("expected ")[1].split()[0]
    assert got != want, why[0]
    ok, why = compare(torch.tensor([1.0, float(np.float32(x))], dtype=torch.float64),
                      torch.tensor([1.0, x], dtype=torch.float64), rtol=1e-9)
    got, want = why[-1].split("got ")[1].split(",")[0], why[-1].split("expected ")[1]
    assert not ok and got.startswith("-0.2243041") and got != want, why
    from bwkit.kit.exercises import register

    register(Exercise.choice("99.5", "a choice (2)", "pick5", ["a", "b", "c"], answer="b",
                             wrong={"a": "a is the first letter", "c": "c is the last"}))
    v = run("99.5", {"pick5": "middle"})
    assert not v.ok and v.text().count("is not one of the options") == 1, v.text()


def test_a_bare_not_implemented_after_an_answer_is_the_learners_error():
    """nbgrader's stub is a bare `raise NotImplementedError()`: on the first input it means "not answered"; raised
    only on a later input (after answering the first) it is the learner's own error, reported as raised."""
    def later(x):
        if x == 1.0:
            return 2.0
        raise NotImplementedError()

    v = run("99.1", {"double": later})
    assert not v.not_answered and "raised NotImplementedError" in v.text(), v.text()
    assert run("99.1", {"double": lambda x: (_ for _ in ()).throw(NotImplementedError())}).not_answered


# the exercises whose references compile or run CuTe / Gluon code: a few seeds only (each takes seconds)
_SLOW_REFERENCES = {"05.3", "05.7", "05.8", "09.1"}


@pytest.mark.parametrize("lab", [f"{i:02d}" for i in range(11)])
def test_every_seed_draws_inputs_the_reference_accepts(lab):
    """The grader draws each student's inputs from a secret seed: for many seeds, every exercise's case generator
    ends and its reference answers every drawn input (a draw the reference rejects would fail every student)."""
    from bwkit.kit.exercises import engine, lab_exercises

    for ex in lab_exercises(lab):
        for seed in range(3 if ex.id in _SLOW_REFERENCES else 60):
            for part, cases in zip(ex.parts, engine._cases(ex, seed), strict=True):
                for case in cases:
                    if case.raises is None:
                        part.expected(*case.args, **dict(case.kwargs))
