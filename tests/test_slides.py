"""The decks stay in sync with the notebooks (no browser needed; tests/test_browser.py presents them)."""

import html
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from bwkit.kit import deck, deckchart, notebooks, slides

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))


def _answers(nb) -> list[str]:
    """Lines between the solution markers that are specific enough to spot and that the lab itself never shows."""
    lab = " ".join(" ".join(c.source.split()) for c in notebooks.lab_from_solution(nb).cells)
    out, inside = [], False
    for c in nb.cells:
        if (c.metadata.get("bwkit") or {}).get("role") != "solution":
            continue
        for line in c.source.split("\n"):
            if notebooks.BEGIN in line:
                inside = True
            elif notebooks.END in line:
                inside = False
            elif inside:
                s = " ".join(line.split("#", 1)[0].split()) if c.cell_type == "code" else " ".join(line.split())
                if len(s) >= 10 and s not in lab:
                    out.append(s)
    return out


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_deck_uses_the_whole_notebook(nb):
    """Every markdown cell is in some slide's notes, every figure on a slide, every exercise a try-it slide."""
    src = slides.source_for(nb, ROOT / "slides")
    assert src.is_file(), f"{nb.name} has no slide source {src.relative_to(ROOT)}"
    assert deck.sync_problems(src, nb) == []


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_answer_reaches_a_deck(nb):
    page = deck.render_deck(slides.source_for(nb, ROOT / "slides"), nb)
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())
    leaked = [a for a in _answers(nbformat.read(nb, as_version=4)) if a in text]
    assert leaked == [], f"{nb.name}: the deck shows answer lines {leaked[:3]}"


def _lab(tmp_path) -> Path:
    nb = new_notebook(cells=[
        new_markdown_cell("# Lab 99 — a test\n\nIntro prose."),
        new_code_cell("def area(w, h):\n    return w * h\n\nprint('GPU  TF/s\\nB200  4,500\\nH200  1,979')",
                      outputs=[new_output("stream", name="stdout", text="GPU   TF/s\nB200  4,500\nH200  1,979\n")]),
        new_markdown_cell("### Exercise 99.1 — double\nWrite `double(x)`, returning `2 * x`."),
        new_code_cell("def double(x):\n    ### BEGIN SOLUTION\n    return x + x  # the answer\n    ### END SOLUTION",
                      metadata={"bwkit": {"exercise": "99.1", "role": "solution", "points": 1, "title": "double"}}),
        new_markdown_cell("<details><summary>Hint</summary>\n\nAdd.\n</details>",
                          metadata={"bwkit": {"exercise": "99.1", "role": "hint"}}),
        new_code_cell('from bwkit.kit.exercises import check\n\ncheck("99.1")',
                      metadata={"bwkit": {"exercise": "99.1", "role": "check"}}),
    ])
    for i, c in enumerate(nb.cells):
        c.id = f"c{i}"
    p = tmp_path / "99_test.ipynb"
    nbformat.write(nb, p)
    return p


GOOD = """# Lab 99 — a test
@notes "Intro prose"
---
## Area is width times height
```python
def area(w, h):
    return w * h
```
@chart "def area(" cols="TF/s"
Note:
Say it.
---
## Doubling
@try 99.1
"""


def test_a_source_becomes_a_deck_with_notes_chart_and_try_it(tmp_path):
    nb = _lab(tmp_path)
    src = tmp_path / "99_test.md"
    src.write_text(GOOD)
    page = deck.render_deck(src, nb, root=tmp_path)
    assert page.count("<section") == 3 and page.count('<aside class="notes">') == 3
    assert "data:image/png;base64," in page and "Try it · exercise 99.1 · 1 point" in page
    assert "return x + x" not in page and "NotImplementedError" in page   # the lab's stub, never the answer
    assert "Add." in page                                                   # the hint goes to the notes
    assert deck.sync_problems(src, nb) == []


@pytest.mark.parametrize("change, message", [
    ('@notes "Intro prose"', r'99_test.md:2: no markdown cell of 99_test.ipynb contains .Nothing like this'),
    ("    return w * h", r"99_test.md:5: the excerpt is not in .*first line not found in order: 'return w \* 3'"),
    ("@try 99.1", r"99_test.md:14: @try needs an exercise of 99_test.ipynb: one of \['99.1'\]"),
    ('@chart "def area(" cols="TF/s"', r"99_test.md:9: chart from cell 1: no column 'GB/s'"),
])
def test_source_errors_name_the_line(tmp_path, change, message):
    nb = _lab(tmp_path)
    bad = {'@notes "Intro prose"': '@notes "Nothing like this"', "    return w * h": "    return w * 3",
           "@try 99.1": "@try 99.7", '@chart "def area(" cols="TF/s"': '@chart "def area(" cols="GB/s"'}[change]
    src = tmp_path / "99_test.md"
    src.write_text(GOOD.replace(change, bad))
    with pytest.raises(deck.DeckSourceError, match=message):
        deck.render_deck(src, nb, root=tmp_path)


def test_answers_and_long_excerpts_are_refused(tmp_path):
    nb = _lab(tmp_path)
    src = tmp_path / "99_test.md"
    src.write_text(GOOD.replace("    return w * h", "    return x + x"))   # the answer is not in the lab
    with pytest.raises(deck.DeckSourceError, match="not in a code cell of 99_test.ipynb .lab version"):
        deck.render_deck(src, nb, root=tmp_path)
    src.write_text(GOOD.replace("    return w * h", "\n".join(["    return w * h"] * 16)))
    with pytest.raises(deck.DeckSourceError, match="a code excerpt of 17 lines; at most 15"):
        deck.render_deck(src, nb, root=tmp_path)


def test_sync_problems_name_what_the_deck_leaves_out(tmp_path):
    nb = _lab(tmp_path)
    src = tmp_path / "99_test.md"
    src.write_text(GOOD.split("---\n## Doubling")[0].replace('@notes "Intro prose"\n', ""))
    problems = deck.sync_problems(src, nb)
    assert any("markdown cell 0 ('# Lab 99 — a test')" in p for p in problems)
    assert "exercise 99.1 has no try-it slide: add @try 99.1" in problems


def test_chart_reads_a_printed_table():
    text = "GPU          fp4 TF/s   fp8 TF/s\nH100 SXM            -      1,979\nB200            9,000      4,500\n"
    head, rows = deckchart.parse_table(text)
    assert head == ["GPU", "fp4 TF/s", "fp8 TF/s"] and [r[0] for r in rows] == ["H100 SXM", "B200"]
    assert deckchart.chart_png(text, cols="fp8 TF/s", rows="B200").startswith(b"\x89PNG")
    with pytest.raises(deckchart.ChartError, match="no row labelled 'H200'"):
        deckchart.chart_png(text, rows="H200")
    with pytest.raises(deckchart.ChartError, match="unknown option"):
        deckchart.chart_png(text, colour="red")


def test_bad_slide_type_and_missing_figure_are_named(tmp_path):
    nb = new_notebook(cells=[new_markdown_cell("# Lab 99"), new_code_cell("x = 1")])
    for i, c in enumerate(nb.cells):
        c.id = f"c{i}"
    nb.cells[1].metadata["slideshow"] = {"slide_type": "slidee"}
    with pytest.raises(slides.SlideBuildError, match=r"99\.ipynb: cell 1 \(id c1\): unknown slide type 'slidee'"):
        slides.deck_notebook(nb, "solutions/99.ipynb")
    nb.cells[1].metadata["slideshow"] = {"slide_type": "-"}
    nb.cells[1].metadata["tags"] = ["figure"]
    nb.cells[1].source = "fig = hw.plot_roofline()\nplt.show()"
    with pytest.raises(slides.SlideBuildError, match="cell 1 .* no stored image output"):
        slides.deck_notebook(nb, "solutions/99.ipynb")
    p = tmp_path / "99_x.ipynb"
    nbformat.write(nb, p)
    with pytest.raises(slides.SlideBuildError, match="99_x.ipynb: no slide source"):
        slides.build_deck(p, tmp_path, tmp_path)
