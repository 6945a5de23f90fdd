"""Running an exercise check in two halves: `probe` (the learner's process) and `judge` (the trusted process).

    payload = make_payload(ex, seed)          # trusted: the inputs, as plain data
    answers = probe(ex.id, namespace, payload)   # learner's process: the answers for those inputs, as plain data
    verdict = judge(ex, answers, seed)        # trusted: compare with the references, name the mistake

`check(exercise_id)` — what a lab's check cell calls — does all three in the learner's own process (seed 0, so
the verdict is the same on every run) and prints ``PASS ✅ …`` or raises `CheckFailure` with the diagnosis. The
grader runs `probe` inside the student's sandboxed kernel with a fresh secret seed and `judge` outside it, so
patching anything in the kernel changes only that student's own answers.
"""

from __future__ import annotations

import contextlib
import json
import random
import signal
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bwkit.kit.catalog import LABS
from bwkit.kit.checks import CheckFailure, NotAnswered, compare, failed, passed
from bwkit.kit.exercises import codec
from bwkit.kit.exercises.spec import BadAnswer, Case, Exercise, Mistake, Part

__all__ = ["check", "run", "probe", "judge", "make_payload", "Verdict", "register", "get", "lab_exercises",
           "all_exercises", "LAB_MODULES", "CASE_SECONDS", "CheckInterrupted"]

CASE_SECONDS = 60.0      # `check`'s time limit on the answer for one input (the slowest official answer: ~2 s)

LAB_MODULES = {lab.number: f"bwkit.kit.exercises.lab{lab.number}" for lab in LABS}  # one per lab of the catalogue
_REGISTRY: dict[str, Exercise] = {}


def register(*exercises: Exercise) -> None:
    """Add exercises to the registry (each lab module calls this once at import)."""
    for ex in exercises:
        if not isinstance(ex, Exercise):
            raise TypeError(f"register() takes Exercise objects, got {type(ex).__name__}")
        _REGISTRY[ex.id] = ex


def get(exercise_id: str) -> Exercise:
    """The exercise with this id ("00.1"); imports its lab's module on first use."""
    import importlib

    if not isinstance(exercise_id, str) or "." not in exercise_id:
        raise ValueError(f"an exercise id looks like '00.1', got {exercise_id!r}")
    if exercise_id not in _REGISTRY:
        module = LAB_MODULES.get(exercise_id.split(".")[0])
        if module is not None:
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as e:
                if e.name != module:
                    raise
    if exercise_id not in _REGISTRY:
        raise KeyError(f"no exercise {exercise_id!r} is defined in bwkit.kit.exercises")
    return _REGISTRY[exercise_id]


def lab_exercises(lab: str) -> list[Exercise]:
    """Every exercise of lab `lab` ("00"), in id order."""
    import importlib
    import importlib.util

    module = LAB_MODULES.get(lab)
    if module is None or importlib.util.find_spec(module) is None:
        return []
    importlib.import_module(module)
    return sorted((e for k, e in _REGISTRY.items() if k.split(".")[0] == lab),
                  key=lambda e: [int(p) if p.isdigit() else p for p in e.id.replace("-", ".").split(".")])


def all_exercises() -> list[Exercise]:
    """Every exercise of every lab module that exists."""
    return [e for lab in LAB_MODULES for e in lab_exercises(lab)]


def _cases(ex: Exercise, seed: int) -> list[list[Case]]:
    rng = random.Random(f"{ex.id}:{seed}")
    return [p.make_cases(rng) for p in ex.parts]


def make_payload(ex: Exercise, seed: int = 0) -> str:
    """The inputs of every part for `seed`, as the JSON text `probe` takes."""
    return codec.dumps({"exercise": ex.id, "cases": _cases(ex, seed)})


def _default_probe(part: Part, answers: Mapping[str, Any], case: Case) -> Any:
    first = part.reads[0]
    if first.kind == "function":
        fn = answers[first.name]
        return fn(*case.args, **dict(case.kwargs))
    values = tuple(answers[a.name] for a in part.reads)
    return values[0] if len(values) == 1 else values


class _TimeLimit(BaseException):
    """Raised into the learner's code by `_time_limit`'s alarm (a BaseException: `except Exception` keeps out)."""


@contextlib.contextmanager
def _time_limit(seconds: float | None):
    """An alarm after `seconds` that raises `_TimeLimit`, in the main thread only, and only when no other timer
    is running (a previous SIGALRM handler is restored afterwards); elsewhere, or for None, no limit."""
    usable = (seconds is not None and seconds > 0 and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread()
              and signal.getitimer(signal.ITIMER_REAL)[0] == 0)
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise _TimeLimit()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _raw_bytes(x: Any, _depth: int = 0) -> int:
    """The bytes of tensor/array data `codec.encode` would copy out of `x` (an expanded or strided view counts in
    full: encoding makes it contiguous), read from shapes only, before anything is copied."""
    import numpy as np

    if _depth > 40:
        return 0
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor):
        return x.numel() * x.element_size()
    if isinstance(x, np.ndarray):
        return x.size * x.itemsize
    if isinstance(x, (list, tuple)):
        return sum(_raw_bytes(v, _depth + 1) for v in x[:10_000])
    if isinstance(x, dict):
        return sum(_raw_bytes(v, _depth + 1) for v in list(x.values())[:10_000])
    return 0


def _size_text(got: Any, nbytes: int, encoded: bool = False) -> str:
    from bwkit.kit.checks import describe_value

    return f"your answer {'encodes to' if encoded else 'is'} {nbytes / 2**20:.1f} MiB ({describe_value(got)})"


def probe(exercise_id: str, namespace: Mapping[str, Any], payload: str, time_limit: float | None = None) -> str:
    """Compute the learner's answers for the payload's inputs from `namespace`; return them as JSON text.

    Never raises for anything the learner's code does: exceptions become data (`codec.AnswerError`); an answer
    that cannot be carried (too large, not data), or one that runs past `time_limit` seconds (`check` sets one;
    the grader has its own cell timeout), becomes a `codec.Unanswerable`.
    """
    ex = get(exercise_id)
    data = codec.loads(payload)
    cases = data["cases"]
    out: dict[str, Any] = {"missing": [], "not_callable": [], "parts": []}
    for a in ex.reads:
        if a.name not in namespace:
            out["missing"].append(a.name)
        elif a.kind == "function" and not callable(namespace[a.name]):
            out["not_callable"].append([a.name, type(namespace[a.name]).__name__])
    if out["missing"] or out["not_callable"]:
        return codec.dumps(out)
    answers = {a.name: namespace[a.name] for a in ex.reads}
    budget = codec.MAX_BYTES - 2**20          # what the answers may take together (the rest: the JSON around them)
    timed_out: codec.Unanswerable | None = None
    for part, part_cases in zip(ex.parts, cases, strict=True):
        results = []
        for case in part_cases:
            if timed_out is not None:        # one endless loop is enough: the other inputs are not tried
                results.append(codec.Encoded(codec.encode(timed_out)))
                continue
            try:
                with _time_limit(time_limit):
                    got = part.probe(answers, case) if part.probe else _default_probe(part, answers, case)
            except KeyboardInterrupt:
                raise
            except _TimeLimit:
                got = timed_out = codec.Unanswerable("timeout", f"took more than {time_limit:g} s (an endless "
                                                                "loop?): the check stopped it")
            except BadAnswer as e:
                got = codec.Unanswerable("form", str(e))
            except BaseException as e:  # noqa: BLE001 - the learner's error is the answer
                got = e
            raw = _raw_bytes(got)
            if raw * 4 // 3 > budget:     # base64 takes 4 characters per 3 bytes; refused before a byte is copied
                got = codec.Unanswerable("unreadable", f"{_size_text(got, raw)}: the check carries at most "
                                                       f"{codec.MAX_BYTES // 2**20} MiB once encoded (about "
                                                       f"{budget * 3 // 4 // 2**20} MiB of tensor data)")
            try:
                enc = codec.encode(got)     # fails here, not later, on something the codec cannot carry
                codec.decode(enc)           # ... and so does what it carries but cannot read back
                size = len(json.dumps(enc, separators=(",", ":"), allow_nan=False))
            except KeyboardInterrupt:
                raise
            except BaseException as e:  # noqa: BLE001 - an answer that is not data is told so
                enc = codec.encode(codec.Unanswerable("unreadable", f"your answer could not be read as data "
                                                      f"({type(e).__name__}: {str(e)[:200]})"))
                size = 0
            if size > budget:
                together = "" if size > codec.MAX_BYTES - 2**20 else " (the answers to all its inputs together)"
                text = (f"{_size_text(got, size, encoded=True)}: the check carries at most "
                        f"{codec.MAX_BYTES // 2**20} MiB{together}")
                enc, size = codec.encode(codec.Unanswerable("unreadable", text)), 0
            budget -= size
            results.append(codec.Encoded(enc))
        out["parts"].append(results)
    return codec.dumps(out)


@dataclass
class Verdict:
    """The outcome of one exercise: ok, the diagnosis lines, and whether it was answered at all."""

    exercise: Exercise
    ok: bool
    lines: list[str] = field(default_factory=list)
    hint: str | None = None
    not_answered: bool = False
    diagnosed: bool = False          # a named mistake (or a probe's form message) explained the failure

    @property
    def name(self) -> str:
        """'00.1 ridge point'."""
        return f"{self.exercise.id} {self.exercise.title}"

    def text(self) -> str:
        """The verdict as the learner reads it (one line when it passes)."""
        if self.ok:
            return f"PASS ✅ {self.name}"
        try:
            failed(self.name, self.lines, self.hint)
        except CheckFailure as e:
            return str(e)
        raise AssertionError("unreachable")  # pragma: no cover

    def show(self) -> None:
        """Print the PASS line, or raise `CheckFailure` (`NotAnswered` when unanswered) with the diagnosis."""
        if self.ok:
            passed(self.name)
            return
        failed(self.name, self.lines, self.hint, cls=NotAnswered if self.not_answered else CheckFailure)


def _raised(got: codec.AnswerError, width: int = 400) -> str:
    """'Type: first line of the message' (CuTe DSL's errors run to a screenful with source excerpts)."""
    lines = [line.strip() for line in got.message.splitlines() if line.strip()]
    text = lines[0] if lines else ""
    if len(text) > width:
        text = text[: width - 3] + "..."
    elif len(lines) > 1:
        text += " (...)"
    return f"{got.type}: {text}" if text else got.type


def _reads_text(ex: Exercise) -> str:
    return "; ".join(a.describe() for a in ex.reads)


def _mistake_says(m: Mistake, part: Part, case: Case, got: Any, want: Any) -> bool | None:
    if m.error is not None:
        if not isinstance(got, codec.AnswerError):
            return None
        return m.error.lower() in f"{got.type}: {got.message}".lower()
    if isinstance(got, codec.Unanswerable):
        return None                 # no answer on this input: it cannot tell any mistake apart
    if isinstance(got, codec.AnswerError):
        if m.when is None:
            return None             # an input on which the answer raised cannot tell a value/ratio mistake apart
        if not m.sees_errors:
            return False
    if m.value is not None:
        return _same(part, got, m.value(*case.args, **dict(case.kwargs)))
    if m.ratio is not None:
        ratios = m.ratio if isinstance(m.ratio, tuple) else (m.ratio,)
        return any(_same(part, got, _scaled(want, r)) for r in ratios)
    return m.when(got, want, *case.args, **dict(case.kwargs))


def _scaled(want: Any, r: float) -> Any:
    if isinstance(want, (list, tuple)):
        return type(want)(_scaled(w, r) for w in want)
    return want * r


def _same(part: Part, got: Any, want: Any) -> bool:
    ok, _ = part.compare(got, want) if part.compare else compare(got, want, atol=part.atol, rtol=part.rtol)
    return ok


def _diagnose(part: Part, results: list[tuple[Case, Any, Any, bool]]) -> Mistake | None:
    """The first mistake consistent with the answer: a `value`/`ratio` model must reproduce the answer on every
    input (so a passing input can rule it out) and on at least one failing input (a passing input on which the
    model happens to give the reference says nothing about the failure); `when`/`error` are asked about the
    failing inputs only."""
    for m in part.mistakes:
        every = m.value is not None or m.ratio is not None
        votes = []
        for case, got, want, ok in results:
            if ok and not every:
                continue
            try:
                v = _mistake_says(m, part, case, got, want)
            except Exception:  # noqa: BLE001 - a mistake model that cannot run here cannot tell
                v = None
            if v is False:
                votes = [False]
                break
            votes.append(None if ok else v)
        if any(v is True for v in votes) and False not in votes:
            return m
    return None


def _short(x: Any) -> str:
    from bwkit.kit.checks import describe_value

    return repr(x) if isinstance(x, (int, float, bool, str)) and len(repr(x)) < 60 else describe_value(x)


def _not_an_option(part: Part, got: Any) -> str | None:
    """For a single choice answer: why `got` is not one of its options (None when it is, or not a choice)."""
    if len(part.reads) != 1 or part.reads[0].kind != "choice":
        return None
    from bwkit.kit.checks import _function_name

    options = part.reads[0].options
    if isinstance(got, str) and got.strip().lower() in [o.lower() for o in options]:
        return None
    shown = ", ".join(f'"{o}"' for o in options)
    if (fn := _function_name(got)) is not None:
        return f"`{part.reads[0].name}` is a function ({fn}), not one of the options {shown}: assign the option " \
               "itself (a string)"
    return f"{'None' if got is None else _short(got)} is not one of the options {shown}"


def _case_text(part: Part, case: Case) -> str:
    first = part.reads[0]
    if first.kind == "function":
        text = case.call_text(first.name)
    else:
        text = ", ".join(a.name for a in part.reads)
    label = case.label or part.name
    return f"{text} [{label}]" if label else text


def judge(ex: Exercise, answers_json: str, seed: int = 0) -> Verdict:
    """Decide the verdict from the learner's answers (JSON text from `probe`) for the inputs of `seed`."""
    data = codec.loads(answers_json)
    if data.get("missing"):
        names = ", ".join(f"`{n}`" for n in data["missing"])
        return Verdict(ex, False, [f"{names} is not defined: this check reads {_reads_text(ex)}",
                                   "run the exercise cell (it still raises NotImplementedError until you write "
                                   "your answer), and keep the name"], not_answered=True)
    if data.get("not_callable"):
        name, typ = data["not_callable"][0]
        return Verdict(ex, False, [f"`{name}` is a {typ}, but this check calls it: it reads {_reads_text(ex)}"])
    all_cases = _cases(ex, seed)
    lines: list[str] = []
    hint = None
    named: list[tuple[str, str]] = []     # (part name, diagnosis) of every wrong part a mistake explains
    diagnosed = True
    for part, cases, results in zip(ex.parts, all_cases, data["parts"], strict=True):
        fails, seen = [], []
        for i, (case, got) in enumerate(zip(cases, results, strict=True)):
            if isinstance(got, codec.Unanswerable):
                if got.kind == "timeout":    # the inputs after it were not tried
                    return Verdict(ex, False, [f"{_case_text(part, case)}: {got.text}"])
                seen.append((case, got, None, False))
                fails.append((case, got, None, [got.text]))
                continue
            if isinstance(got, codec.AnswerError) and got.not_implemented and (
                    i == 0 or codec.STUB_MESSAGE.search(got.message)):   # a bare one after an answer: the learner's
                return Verdict(ex, False, [f"not answered yet: {_case_text(part, case)} raised "
                                           "NotImplementedError (the exercise stub): write your answer in the "
                                           "exercise cell"], not_answered=True)
            if case.raises is not None:
                want = None
                names = (case.raises,) if isinstance(case.raises, str) else tuple(case.raises)
                if isinstance(got, codec.AnswerError):
                    ok = got.type in names
                    why = [] if ok else [f"raised {_raised(got)}; expected {' or '.join(names)}"]
                else:
                    ok, why = False, [f"returned {_short(got)}; these inputs must raise {' or '.join(names)}"]
                seen.append((case, got, want, ok))
                if not ok:
                    fails.append((case, got, want, why))
                continue
            want = part.expected(*case.args, **dict(case.kwargs))
            if isinstance(got, codec.AnswerError):
                ok, why = False, [f"raised {_raised(got)}"]
            elif (bad := _not_an_option(part, got)) is not None:
                return Verdict(ex, False, [f"{_case_text(part, case)}: {bad}"],
                               "Likely mistake: the answer is one of the options, written exactly as shown (a "
                               "string)", diagnosed=True)
            else:
                ok, why = part.compare(got, want) if part.compare else compare(
                    got, want, atol=part.atol, rtol=part.rtol)
            seen.append((case, got, want, ok))
            if not ok:
                fails.append((case, got, want, why))
        if not fails:
            continue
        case, _, _, why = fails[0]
        head = _case_text(part, case)
        lines.append(f"{head}: {why[0]}" if why else head)
        lines.extend(f"  {w}" for w in why[1:])
        n_cases = len(cases)
        if n_cases > 1:
            lines.append(f"wrong on {len(fails)} of {n_cases} inputs")
        mistake = _diagnose(part, seen)
        if mistake is not None:
            named.append((part.name, mistake.diagnosis))
        elif isinstance(fails[0][1], codec.Unanswerable) and fails[0][1].kind == "form":
            pass            # a probe's BadAnswer names what is wrong with the answer's form: that is the diagnosis
        else:
            diagnosed = False
            if hint is None and (part.hint or ex.hint):
                hint = f"Hint: {part.hint or ex.hint}"
    if not lines:
        return Verdict(ex, True)
    if named:       # every wrong part's diagnosis, each on its own line (named by its part when there are several)
        several = len(named) > 1
        said = [f"Likely mistake ({name}): {why}" if several and name else f"Likely mistake: {why}"
                for name, why in dict.fromkeys(named)]
        hint = "\n   ".join(said + ([hint] if hint else []))
    return Verdict(ex, False, lines, hint, diagnosed=diagnosed and (bool(named) or hint is None))


@contextlib.contextmanager
def _kit_defaults():
    """torch's default dtype float32 and default device the CPU while the kit draws inputs and computes
    references (a learner's torch.set_default_dtype / set_default_device would change them); restored after."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    dtype, device = torch.get_default_dtype(), torch.get_default_device()
    if dtype != torch.float32:
        torch.set_default_dtype(torch.float32)
    if device.type != "cpu":
        torch.set_default_device(None)
    try:
        yield
    finally:
        if dtype != torch.float32:
            torch.set_default_dtype(dtype)
        if device.type != "cpu":
            torch.set_default_device(device)


def run(exercise_id: str, namespace: Mapping[str, Any], seed: int = 0) -> Verdict:
    """Probe and judge in this process (what `check` and the mutation tests use): the inputs and the verdict
    under the kit's torch defaults, the learner's code under the learner's own."""
    ex = get(exercise_id)
    with _kit_defaults():
        payload = make_payload(ex, seed)
    answers = probe(exercise_id, namespace, payload, time_limit=CASE_SECONDS)
    with _kit_defaults():
        return judge(ex, answers, seed)


class CheckInterrupted(KeyboardInterrupt):
    """Kernel > Interrupt while a check ran the learner's answer: shown as one line, not a traceback into bwkit."""

    def _render_traceback_(self) -> list[str]:
        return [str(self)]


def check(exercise_id: str, namespace: Mapping[str, Any] | None = None) -> None:
    """Check exercise `exercise_id` against the answers in the calling cell's namespace; PASS or raise.

    This is the whole check cell of every exercise: ``from bwkit.kit.exercises import check; check("00.1")``.
    """
    if namespace is None:
        namespace = sys._getframe(1).f_globals
    try:
        verdict = run(exercise_id, namespace)
    except KeyboardInterrupt:
        raise CheckInterrupted(f"⏹ {exercise_id}: interrupted while the check ran your answer, so nothing was "
                               "checked; run the check cell again (an answer that runs too long is stopped after "
                               f"{CASE_SECONDS:g} s per input)") from None
    verdict.show()
