"""The facts registry (bwkit.facts) against the labs: no notebook states an external number differently."""

from pathlib import Path

import nbformat
import pytest

from bwkit import facts

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))


def test_every_fact_reads_a_value_and_names_a_source():
    for f in facts.FACTS:
        assert f.value == f.value and f.value > 0, f.key
        assert f.source and f.prose, f"{f.key}: needs a source and at least one prose pattern"
    assert facts.get("B200.hbm_tbps").value == 8.0
    with pytest.raises(KeyError, match="no fact"):
        facts.get("B300.sms")


def test_a_wrong_number_in_prose_is_caught():
    assert facts.find_mismatches("Back-of-envelope for B200 FP8: 4.5 PFLOP/s / 8 TB/s ≈ 560 FLOP/byte") == []
    bad = facts.find_mismatches("a B200 streams its weights at 7.7 TB/s; on 132 SMs (B200) that is ...")
    assert {(f.key, w) for f, w, _ in bad} == {("B200.hbm_tbps", "7.7"), ("B200.sms", "132")}
    assert [f.key for f, _, _ in facts.find_mismatches("FlashMLA README: dense decode 580/989 TFLOP/s")] == \
        ["flashmla.h800_dense_tflops"]


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_lab_prose_agrees_with_the_registry(path):
    nb = nbformat.read(path, as_version=4)
    bad = []
    for i, c in enumerate(nb.cells):
        if c.cell_type == "markdown":
            bad += [f"cell {i} ({c.get('id')}): {f.key} = {f.value:g} {f.unit} ({f.source}), but the text says "
                    f"{written!r} in {text!r}" for f, written, text in facts.find_mismatches(c.source)]
    assert not bad, f"{path.name}:\n" + "\n".join(bad)
