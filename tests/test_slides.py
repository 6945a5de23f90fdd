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
    ("    return w * h", r"99_test.md:7: the excerpt is not in .*first line not found in order: 'return w \* 3'"),
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


# ---------------------------------------------------------------------------------------------------- excerpts
KERNEL = '''def kernel(x):
    y = x + 1
    # flip the sign
    y = -y
    return y * 2
'''


def _excerpt_source(tmp_path, excerpt: str) -> Path:
    (tmp_path / "kern.py").write_text(KERNEL)
    src = tmp_path / "99_test.md"
    src.write_text(GOOD.replace("```python\ndef area(w, h):\n    return w * h\n```",
                                "```python src=kern.py\n" + excerpt + "```"))
    return src


@pytest.mark.parametrize("excerpt, message", [
    ("def kernel(x):\n    y = x + 1\n    return y * 2\n",        # drops the sign line: says the wrong thing
     r"99_test.md:8: the excerpt is not in kern.py; 1 source line\(s\) left out before 'return y \* 2' "
     r"\(from 'y = -y'\): show them or mark the gap with a '...' line"),
    ("def kernel(x):\n    ...\n    y = x + 1\n",                   # a '...' must stand for something
     r"99_test.md:8: the excerpt is not in kern.py; the '...' before 'y = x \+ 1' leaves out no line"),
    ("    y = -y\n    y = x + 1\n",                                # out of order
     r"99_test.md:7: the excerpt is not in kern.py; first line not found in order: 'y = x \+ 1'"),
])
def test_an_excerpt_may_not_skip_lines_silently(tmp_path, excerpt, message):
    nb = _lab(tmp_path)
    with pytest.raises(deck.DeckSourceError, match=message):
        deck.render_deck(_excerpt_source(tmp_path, excerpt), nb, root=tmp_path)


@pytest.mark.parametrize("excerpt", [
    "def kernel(x):\n    y = x + 1\n    ...\n    return y * 2\n",     # the gap is marked
    "def kernel(x):\n    # ...\n    return y * 2\n",                 # '# ...' too, over several lines
    "def kernel(x):\n    y = x + 1\n    y = -y\n",                   # a comment-only line may be left out
    "...\n    y = -y\n    return y * 2\n",
])
def test_an_excerpt_with_its_gaps_marked_passes(tmp_path, excerpt):
    nb = _lab(tmp_path)
    page = deck.render_deck(_excerpt_source(tmp_path, excerpt), nb, root=tmp_path)
    assert html.escape(excerpt.strip("\n")) in page


# ---------------------------------------------------------------------------------------------------- options
@pytest.mark.parametrize("line, message", [
    ('@figure "def area(" h=500px', r"99_test.md:9: h='500px' is not a whole number \(write h=500, no unit\)"),
    ('@figure "def area(" n=two', r"99_test.md:9: n='two' is not a whole number"),
    ('@chart "def area(" cols="TF/s" w=6in', r"99_test.md:9: chart from cell 1: w='6in' is not a number \(inches"),
    ('@chart "def area(" cols="TF/s" hline=lots:x', r"99_test.md:9: chart from cell 1: hline='lots' is not a number"),
    ('@chart "def area(" cols="TF/s" h=big', r"99_test.md:9: h='big' is not a whole number"),
    ('@chart "def area(" pattern="(?P<label>[" cols=x',
     r"99_test.md:9: chart from cell 1: pattern=.* is not a regular expression"),
    ('@output "def area(" grep="(B200"', r"99_test.md:9: grep='\(B200' is not a regular expression"),
    ('@output "def area(" lines=2-9', r"99_test.md:9: lines=2-9 asks for lines 2 to 9; the cell printed 3 line"),
    ('@table "def area(" header=first', r"99_test.md:9: header='first' is not a whole number"),
    ('@output "def area(" size=tiny', r"99_test.md:9: size='tiny'; @output takes size= small"),
])
def test_a_bad_option_value_names_the_line(tmp_path, line, message):
    nb = _lab(tmp_path)
    src = tmp_path / "99_test.md"
    src.write_text(GOOD.replace('@chart "def area(" cols="TF/s"', line))
    with pytest.raises(deck.DeckSourceError, match=message):
        deck.render_deck(src, nb, root=tmp_path)


@pytest.mark.parametrize("old, new, message", [
    ('@chart "def area(" cols="TF/s"', '@output "def area(" line=1-2',
     r"99_test.md:9: @output has no option line= \(known: grep=, lines=, size=, wrap=\); did you mean lines=\?"),
    ('@chart "def area(" cols="TF/s"', '@figure "def area(" hh=500',
     r"99_test.md:9: @figure has no option hh= \(known: alt=, h=, n=\); did you mean h=\?"),
    ('@chart "def area(" cols="TF/s"', '@table "def area(" col=GPU',
     r"99_test.md:9: @table has no option col= \(known: cols=, header=, names=, rows=, size=\); did you mean cols="),
    ('@chart "def area(" cols="TF/s"', '@chart "def area(" col="TF/s"',
     r"99_test.md:9: @chart has no option col= \(known: cols=, .*h=, .*\); did you mean cols=\?"),
    ('@chart "def area(" cols="TF/s"', '@output "def area(" fragmnet',
     r"99_test.md:9: @output does not know the word 'fragmnet' \(its flags: fragment\); did you mean fragment\?"),
    ("@try 99.1", "@try 99.1 stubb=no", r"99_test.md:14: @try has no option stubb= \(known: stub=\)"),
    ('@notes "Intro prose"', '@notes "Intro prose" size=small',
     r"99_test.md:2: @notes has no option size= \(known: none\)"),
    ("```python\n", "```python srcc=lib/x.py\n", r"99_test.md:5: an excerpt has no option srcc= \(known: hl=, src=\)"),
])
def test_a_misspelt_option_is_named_with_the_known_ones(tmp_path, old, new, message):
    nb = _lab(tmp_path)
    src = tmp_path / "99_test.md"
    src.write_text(GOOD.replace(old, new))
    with pytest.raises(deck.DeckSourceError, match=message):
        deck.render_deck(src, nb, root=tmp_path)


# ---------------------------------------------------------------------------------------------------- try-it notes
def test_try_it_notes_start_at_the_exercise_heading():
    """Try 00.1's notes: its prompt (and hint), not step 2's conclusion nor step 3's roofline section before it."""
    nb = ROOT / "solutions" / "00_hardware_roofline.ipynb"
    lab = deck.Lab(nb)
    heading = [i for i, c in enumerate(lab.nb.cells) if c.cell_type == "markdown" and "Exercise 00.1" in c.source]
    assert lab.prompt_cells("00.1") == heading and len(heading) == 1
    src = ROOT / "slides" / "src" / "00_hardware_roofline.md"
    slide = next(s for s in deck.parse_source(src.read_text()) if any(t == "@try 00.1" for _, t in s.body))
    page, _ = deck._render_slide(slide, lab, src, ROOT, False)
    notes = html.unescape(page.split('<aside class="notes">', 1)[1])
    assert "Exercise 00.1" in notes and "ridge_point(peak_tflops, bandwidth_tbps)" in notes
    assert "Step 3" not in notes and "attainable" not in notes and "From H100 to B200" not in notes


# ---------------------------------------------------------------------------------------------------- building
def _kit(tmp_path, labs=("99_test", "98_other"), *, node_modules=True) -> Path:
    """A kit tree under tmp_path: solutions/ and slides/src/ for `labs`, and a stand-in node_modules/."""
    (tmp_path / "solutions").mkdir(parents=True)
    (tmp_path / "slides" / "src").mkdir(parents=True)
    (tmp_path / "slides" / "package.json").write_text("{}")
    one = _lab(tmp_path / "solutions")
    for stem in labs:
        if stem != one.stem:
            one.with_name(f"{stem}.ipynb").write_bytes(one.read_bytes())
        (tmp_path / "slides" / "src" / f"{stem}.md").write_text(GOOD)
    if node_modules:
        nm = tmp_path / "slides" / "node_modules"
        for f in ("reveal.js/dist/reveal.js", "reveal.js/dist/theme/white.css", "reveal.js/plugin/notes/notes.js",
                  "mathjax/MathJax.js"):
            (nm / f).parent.mkdir(parents=True, exist_ok=True)
            (nm / f).write_text("/* stand-in */")
    return tmp_path


def test_build_names_a_source_without_its_notebook_and_drops_stale_decks(tmp_path):
    root = _kit(tmp_path)
    build = root / "slides" / "build"
    build.mkdir()
    (build / "97_gone.slides.html").write_text("old")          # its lab is gone
    (build / "98_other.slides.html").write_text("old")         # its lab is about to lose its notebook
    (root / "solutions" / "98_other.ipynb").unlink()
    with pytest.raises(slides.SlideBuildError, match=r"98_other.md: no solution notebook .*98_other.ipynb"):
        slides.build_all(root / "solutions", root / "slides")
    assert sorted(p.name for p in build.iterdir()) == []        # neither stale deck is left to present
    (root / "slides" / "src" / "98_other.md").unlink()
    assert [p.name for p in slides.build_all(root / "solutions", root / "slides")] == ["99_test.slides.html"]


def test_build_builds_only_the_labs_named(tmp_path):
    root = _kit(tmp_path)
    out = slides.build_all(root / "solutions", root / "slides", ["99"])
    assert [p.name for p in out] == ["99_test.slides.html"]
    assert sorted(p.name for p in (root / "slides" / "build").glob("*.html")) == ["99_test.slides.html"]
    assert (root / "slides" / "build" / "vendor" / "mathjax" / "MathJax.js").is_file()
    assert slides.select_labs(["98_other", "99_test"], ["98_other", "solutions/99_test.ipynb", "98"]) == \
        ["98_other", "99_test"]
    with pytest.raises(slides.SlideBuildError, match=r"no lab '42'; the labs: 98, 99 \(or their names"):
        slides.build_all(root / "solutions", root / "slides", ["42"])


def _bwkit(capsys, *argv) -> tuple[int, str]:
    from bwkit.kit import cli

    rc = cli.main(["slides", *argv])
    return rc, capsys.readouterr().err


def test_cli_input_errors_are_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    rc, err = _bwkit(capsys, "tag", str(tmp_path / "nope.ipynb"))
    assert (rc, err) == (2, f"slides: {tmp_path / 'nope.ipynb'}: no such notebook\n")
    (tmp_path / "broken.ipynb").write_text("{")
    rc, err = _bwkit(capsys, "tag", str(tmp_path / "broken.ipynb"))
    assert rc == 2 and err.startswith(f"slides: {tmp_path / 'broken.ipynb'}: not a readable notebook") \
        and err.count("\n") == 1
    monkeypatch.chdir(tmp_path)                                  # not the kit's root: its slides/ are found still
    rc, err = _bwkit(capsys, "build", "99_nope")
    assert rc == 2 and err.startswith("slides: no lab '99_nope'; the labs: 00, 01, ") and err.count("\n") == 1
    root = _kit(tmp_path / "kit", node_modules=False)
    monkeypatch.setattr(slides, "kit_root", lambda: root)
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))        # no npm to install reveal.js with
    rc, err = _bwkit(capsys, "build", "99")
    assert rc == 2 and err.startswith("slides: building slides needs npm (Node.js) on PATH") and err.count("\n") == 1
    assert not (root / "slides" / "build").exists()


def test_sync_problems_name_a_slide_out_of_the_notebooks_order(tmp_path):
    nb = _lab(tmp_path)
    intro, area, doubling = GOOD.split("---\n")
    src = tmp_path / "99_test.md"
    src.write_text("---\n".join([intro, doubling.rstrip("\n") + "\n\n", area]))   # the try before the cell it needs
    assert deck.sync_problems(src, nb) == [
        "99_test.md:8: uses cell 1 of the notebook after a slide that used cell 3: follow the notebook's order, "
        "or say why in its notes ('Out of order: ...')"]
    src.write_text(src.read_text().replace("Say it.", "Say it.\nOut of order: the chart answers the exercise."))
    assert deck.sync_problems(src, nb) == []


def test_a_build_folder_that_cannot_be_written_is_one_line(tmp_path, capsys, monkeypatch):
    """slides/build/ a file, or a file where build/vendor/ goes (a read-only kit alike): one line saying where the
    decks could not be written and how to build elsewhere (it was a raw NotADirectoryError traceback); --out then
    builds the decks in a folder of one's choice, and a deck there that is no lab's (mytalk.slides.html) stays."""
    root = _kit(tmp_path / "kit")
    build = root / "slides" / "build"
    build.write_text("in the way")
    with pytest.raises(slides.SlideBuildError, match=r"^cannot write the decks into .*build \(.*\): make it a folder "
                                                     r"you can write, or build elsewhere \(`bwkit slides build --out"):
        slides.build_all(root / "solutions", root / "slides", ["99"])
    build.unlink()
    build.mkdir()
    (build / "vendor").write_text("in the way")
    with pytest.raises(slides.SlideBuildError, match=r"cannot write the decks into .*build \(.*vendor\)"):
        slides.build_all(root / "solutions", root / "slides", ["99"])
    monkeypatch.setattr(slides, "kit_root", lambda: root)
    rc, err = _bwkit(capsys, "build", "99")
    assert rc == 2 and err.startswith("slides: cannot write the decks into ") and err.count("\n") == 1, err
    out = tmp_path / "decks"
    out.mkdir()
    (out / "mytalk.slides.html").write_text("mine")
    rc, err = _bwkit(capsys, "build", "99", "--out", str(out))
    assert (rc, err) == (0, "")
    assert sorted(p.name for p in out.glob("*.html")) == ["99_test.slides.html", "mytalk.slides.html"]
    assert (out / "vendor" / "mathjax" / "MathJax.js").is_file() and (build / "vendor").read_text() == "in the way"


def test_a_path_to_another_notebook_is_refused_not_swapped_for_the_kits(tmp_path, capsys, monkeypatch):
    """`slides build labs/99_test.ipynb` (or a copy elsewhere) built the kit's solution of that name in its place,
    silently: now it is refused, naming the path and saying to pass the lab's number; a path into the kit's
    solutions/ or slide sources still names its lab."""
    root = _kit(tmp_path / "kit")
    (root / "labs").mkdir()
    lab = root / "labs" / "99_test.ipynb"
    lab.write_bytes((root / "solutions" / "99_test.ipynb").read_bytes())
    elsewhere = tmp_path / "course" / "99_test.ipynb"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(lab.read_bytes())
    for given in (lab, elsewhere):
        with pytest.raises(slides.SlideBuildError, match=re.escape(f"{given} is not in the kit's {root / 'solutions'}"
                                                                   ": decks are built from the kit's solution")
                           + r".*pass the lab's number instead, e.g. `bwkit slides build 99`"):
            slides.build_all(root / "solutions", root / "slides", [str(given)])
    assert not (root / "slides" / "build").exists()
    monkeypatch.chdir(elsewhere.parent)          # a bare file name of a notebook here is that notebook too
    with pytest.raises(slides.SlideBuildError, match="99_test.ipynb is not in the kit's"):
        slides.build_all(root / "solutions", root / "slides", ["99_test.ipynb"])
    monkeypatch.setattr(slides, "kit_root", lambda: root)
    rc, err = _bwkit(capsys, "build", str(lab))
    assert rc == 2 and err.startswith(f"slides: {lab} is not in the kit's ") and err.count("\n") == 1, err
    built = slides.build_all(root / "solutions", root / "slides",
                             [str(root / "solutions" / "99_test.ipynb"), str(root / "slides" / "src" / "98_other.md")])
    assert [p.name for p in built] == ["99_test.slides.html", "98_other.slides.html"]
