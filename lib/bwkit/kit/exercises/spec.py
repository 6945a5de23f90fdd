"""How an exercise is defined: what its check reads, the inputs it tries, the reference and the mistakes it names.

One `Exercise` per exercise id ("00.1"), registered by the lab's module (`bwkit.kit.exercises.lab00`, ...). The
same definition serves the learner's check cell (`bwkit.kit.exercises.check("00.1")`), the grader (inputs chosen
and verdict decided outside the student's process) and the mutation catalogue in the tests.

    Exercise("00.1", "ridge point",
             reads=Function("ridge_point", "(peak_tflops: float, bandwidth_tbps: float) -> float", "FLOP/byte"),
             cases=lambda rng: [Case((4500, 8.0), "B200 FP8"), Case((rng.uniform(100, 9000), 4.0), "random")],
             expected=lambda peak, bw: peak / bw, rtol=1e-6,
             mistakes=[Mistake("you divided bandwidth by peak", value=lambda peak, bw: bw / peak),
                       Mistake("off by 1000: TFLOP/s with GB/s", ratio=(1000, 1e-3))])

An exercise has one or more `Part`s (the keyword arguments above build a single part); it passes when every part
passes on every case. Mistakes are recognised by behaviour on the failing cases (`value`: what a classic wrong
answer returns for these inputs; `ratio`: answer = r x reference; `when`: any predicate; `error`: the exception
the learner's code raised), never by one hard-coded number; `wrong_choices({option: diagnosis})` names the wrong
options of a `Choice` (`Exercise.choice` declares a whole choice exercise), `wrong_unit("bits", "bytes", 8)` an
answer in the wrong unit.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Answer", "Function", "Value", "Choice", "Case", "Mistake", "wrong_choices", "wrong_unit", "Part",
           "Exercise", "BadAnswer"]


class BadAnswer(Exception):
    """Raised by a part's `probe` when the learner's answer has the wrong form (None, a dict where a tuple is
    expected, 2.5 where an int is): its message is the diagnosis, shown as is (not as an error the learner's code
    raised)."""


@dataclass(frozen=True)
class Answer:
    """A name the check reads from the learner's notebook, with what it must be."""

    name: str
    kind: str                   # "function" | "value" | "choice"
    signature: str = ""         # functions: "(x: float) -> float"
    type: str = ""              # values: "float", "int", "torch.Tensor [M, N] float32", ...
    unit: str = ""              # "ms", "FLOP/byte", "bytes", ... ("" when unitless)
    options: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for prompts and diagnoses: `ridge_point(peak: float) -> float` (FLOP/byte)."""
        if self.kind == "function":
            text = f"`{self.name}{self.signature}`"
        elif self.kind == "choice":
            text = f"`{self.name}`, one of " + ", ".join(f'"{o}"' for o in self.options)
        else:
            text = f"`{self.name}: {self.type}`"
        return text + (f" (in {self.unit})" if self.unit else "")


def Function(name: str, signature: str, unit: str = "") -> Answer:  # noqa: N802 - reads like a type
    """A function the learner writes; the check calls it on each case's arguments."""
    return Answer(name, "function", signature=signature, unit=unit)


def Value(name: str, type: str, unit: str = "") -> Answer:  # noqa: N802, A002
    """A variable the learner assigns (a number, tensor, layout, ...); read once."""
    return Answer(name, "value", type=type, unit=unit)


def Choice(name: str, options: Sequence[str]) -> Answer:  # noqa: N802
    """A variable holding one of `options` (a string; compared case- and space-insensitively)."""
    return Answer(name, "choice", type="str", options=tuple(options))


@dataclass(frozen=True)
class Case:
    """One input of a check: positional and keyword arguments (tensors allowed) and a label for messages.

    `raises` names the exception type(s) the answer must raise for these inputs (e.g. "ValueError" for a tile no
    MMA supports) instead of returning a value; `text` replaces the call shown in messages (e.g. "scale_offset(m,
    kb, 6) for every m < 256").
    """

    args: tuple = ()
    label: str = ""
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    raises: str | tuple[str, ...] | None = None
    text: str = ""

    def call_text(self, fn: str, width: int = 90) -> str:
        """'ridge_point(4500, 8.0)' (tensors shown by dtype and shape; `text` when the case sets one)."""
        if self.text:
            return self.text
        from bwkit.kit.checks import describe_value

        def short(v: Any) -> str:
            import dataclasses

            if hasattr(v, "shape") and hasattr(v, "dtype"):
                return f"<{str(v.dtype).replace('torch.', '')} {list(v.shape)}>"
            if isinstance(v, float):
                return f"{v:.6g}"
            if dataclasses.is_dataclass(v) and not isinstance(v, type):
                return f"<{type(v).__name__}>"
            if isinstance(v, str) and len(v) > 40:
                return f"<text of {len(v):,} characters>"
            text = repr(v)
            return text if len(text) <= 40 else describe_value(v, 40)

        parts = [short(a) for a in self.args] + [f"{k}={short(v)}" for k, v in self.kwargs.items()]
        text = f"{fn}({', '.join(parts)})"
        return text if len(text) <= width else text[: width - 4] + "...)"


@dataclass(frozen=True)
class Mistake:
    """A classic wrong answer and its diagnosis, recognised by behaviour on the failing cases.

    Exactly one of: `value(*args, **kwargs)` -> what the wrong answer returns; `ratio` -> answer = r x reference
    (a number or a tuple of alternatives); `when(got, want, *args, **kwargs)` -> True/False/None (None: cannot
    tell on this case); `error` -> substring of the exception type or message the learner's code raised. An input
    on which the answer raised cannot rule a `value`/`ratio` mistake out; a `when` predicate is shown such an input
    (`got` is then a `codec.AnswerError`) only with `sees_errors=True`, else the input rules it out.
    """

    diagnosis: str
    value: Callable[..., Any] | None = None
    ratio: float | tuple[float, ...] | None = None
    when: Callable[..., bool | None] | None = None
    error: str | None = None
    sees_errors: bool = False

    def __post_init__(self):
        n = sum(x is not None for x in (self.value, self.ratio, self.when, self.error))
        if n != 1:
            raise ValueError(f"Mistake({self.diagnosis!r}) needs exactly one of value/ratio/when/error, got {n}")


def wrong_choices(diagnoses: Mapping[str, str]) -> tuple[Mistake, ...]:
    """The mistakes of a `Choice`, one per wrong option: {option: its diagnosis}, in that order.

        mistakes=wrong_choices({"compute": "I = 2M = 128 FLOP/byte, far left of the ridge point"})
    """
    return tuple(Mistake(why, value=lambda option=option: option) for option, why in diagnoses.items())


def wrong_unit(unit: str, answer_unit: str, ratio: float) -> Mistake:
    """The answer in `unit` where `answer_unit` is asked for: answer = `ratio` x reference.

        wrong_unit("bits", "bytes", 8)      # "that is in bits: the answer is in bytes"
    """
    return Mistake(f"that is in {unit}: the answer is in {answer_unit}", ratio=ratio)


@dataclass(frozen=True)
class Part:
    """One checked piece of an exercise: the answers it reads, its cases, reference, tolerance and mistakes.

    `probe(answers, case)` computes the answer for one case in the learner's process from the objects read (a
    dict name -> object); the default calls a function answer with the case's arguments, or returns the value(s).
    `expected(*args, **kwargs)` is the reference, computed in the trusted process. `compare(got, want)` may replace
    the numeric comparison; it returns (ok, lines).
    """

    reads: tuple[Answer, ...]
    expected: Callable[..., Any]
    cases: Callable[[random.Random], Sequence[Case]] | Sequence[Case] = (Case(),)
    probe: Callable[[Mapping[str, Any], Case], Any] | None = None
    atol: float = 0.0
    rtol: float = 1e-6
    compare: Callable[[Any, Any], tuple[bool, list[str]]] | None = None
    mistakes: tuple[Mistake, ...] = ()
    name: str = ""
    hint: str = ""

    def make_cases(self, rng: random.Random) -> list[Case]:
        """The cases for one run (fixed ones plus those drawn from `rng`)."""
        cases = self.cases(rng) if callable(self.cases) else self.cases
        out = list(cases)
        if not out or not all(isinstance(c, Case) for c in out):
            raise ValueError("an exercise part needs at least one Case")
        return out


@dataclass(frozen=True)
class Exercise:
    """An exercise: id ("NN.k"), title, and its parts (see the module docstring)."""

    id: str
    title: str
    parts: tuple[Part, ...]
    hint: str = ""
    flags_ok: tuple[str, ...] = ()   # bwkit names an answer may use without being flagged for review

    @classmethod
    def single(cls, id: str, title: str, *, hint: str = "", flags_ok: tuple[str, ...] = (),  # noqa: A002
               **part: Any) -> Exercise:
        """An exercise of one part: `Exercise.single("00.1", "ridge point", reads=..., expected=..., ...)`."""
        reads = part.pop("reads")
        reads = (reads,) if isinstance(reads, Answer) else tuple(reads)
        mistakes = tuple(part.pop("mistakes", ()))
        return cls(id, title, (Part(reads=reads, mistakes=mistakes, hint=hint, **part),), hint=hint,
                   flags_ok=tuple(flags_ok))

    @classmethod
    def choice(cls, id: str, title: str, name: str, options: Sequence[str], *,  # noqa: A002
               answer: str | Callable[[], str], wrong: Mapping[str, str], hint: str = "") -> Exercise:
        """A one-part choice: `name` must hold `answer` (an option, or a function returning one); `wrong` names
        the diagnosis of each wrong option (see `wrong_choices`).

            Exercise.choice("00.4", "memory- or compute-bound", "answer", ["memory", "compute"],
                            answer="memory", wrong={"compute": "I = 2M = 128 FLOP/byte, left of the ridge"})
        """
        options = tuple(options)
        unknown = [o for o in ([] if callable(answer) else [answer]) + list(wrong) if o not in options]
        if unknown:
            raise ValueError(f"exercise {id}: {unknown} not among the options {options}")
        expected = answer if callable(answer) else (lambda: answer)
        return cls.single(id, title, reads=Choice(name, options), expected=expected, mistakes=wrong_choices(wrong),
                          hint=hint)

    @property
    def reads(self) -> tuple[Answer, ...]:
        """Every answer the exercise reads (in order, once each)."""
        seen: dict[str, Answer] = {}
        for p in self.parts:
            for a in p.reads:
                seen.setdefault(a.name, a)
        return tuple(seen.values())
