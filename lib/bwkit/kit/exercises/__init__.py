"""The exercises of every lab, defined once: what each check reads, its inputs, reference and named mistakes.

    from bwkit.kit.exercises import check
    check("00.1")            # a lab's whole check cell: PASS ✅ 00.1 ridge point, or FAIL ❌ with a diagnosis

`spec` says how an exercise is written, `engine` runs it (probe in the learner's process, judge in the trusted
one), `codec` carries inputs and answers as plain data; `lab00` ... hold the definitions. The same definitions
serve the learner's check cells, `bwkit grade` and the mutation catalogue in tests/. Taught in lab 00.
"""

from bwkit.kit.exercises.engine import (
    LAB_MODULES,
    CheckInterrupted,
    Verdict,
    all_exercises,
    check,
    get,
    judge,
    lab_exercises,
    make_payload,
    probe,
    register,
    run,
)
from bwkit.kit.exercises.spec import (
    Answer,
    Case,
    Choice,
    Exercise,
    Function,
    Mistake,
    Part,
    Value,
    wrong_choices,
    wrong_unit,
)

__all__ = ["check", "run", "probe", "judge", "make_payload", "Verdict", "register", "get", "lab_exercises",
           "all_exercises", "LAB_MODULES", "Answer", "Case", "Choice", "Exercise", "Function", "Mistake", "Part",
           "Value", "wrong_choices", "wrong_unit", "CheckInterrupted"]
