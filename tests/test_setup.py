"""The two-command setup: pins agree between pyproject.toml and environment.yml; README and CI use make."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[=<>~!; \[]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pinned(reqs) -> dict[str, str]:
    out = {}
    for r in reqs:
        r = r.split(";")[0].strip()
        m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(==|~=)\s*([^\s,]+)$", r)
        if m:
            out[_name(m.group(1))] = m.group(2) + m.group(3)
    return out


def test_environment_yml_matches_pyproject():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    want = _pinned(py["dependencies"] + py["optional-dependencies"]["test"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    got = _pinned(pip)
    assert got, "environment.yml pins nothing"
    for name, spec in got.items():
        assert want.get(name) == spec, f"environment.yml pins {name}{spec}, pyproject.toml has {want.get(name)}"
    for name in ("torch", "triton", "nvidia-cutlass-dsl", "jupyterlab", "nbval"):
        assert name in got, f"environment.yml does not pin {name}"
    assert any(p.startswith("-e .") for p in pip), "environment.yml must install the package (-e .)"
    py_ver = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert py_ver.split("=")[1] in py["requires-python"] or py_ver == "python=3.11"


def test_key_pins():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = _pinned(deps)
    assert pins["torch"] == "==2.15.0" and pins["triton"] == "==3.9.0"
    assert pins["nvidia-cutlass-dsl"] == "==4.8.1" and pins["jupyterlab"].startswith("~=4.6")


def test_readme_quick_start_is_two_make_commands():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Quick start", 1)[1].split("```", 2)[1]
    cmds = [ln.split("#")[0].strip() for ln in block.splitlines()[1:] if ln.strip()]
    assert cmds == ["make lab", "make test"]
    make = (ROOT / "Makefile").read_text()
    assert re.search(r"^lab:", make, re.M) and re.search(r"^test:", make, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_installed_versions_match_pins():
    from importlib.metadata import version

    assert version("torch").split("+")[0] == "2.15.0"
    assert version("triton") == "3.9.0"
    assert version("nvidia-cutlass-dsl") == "4.8.1"


def test_doctor_runs_without_cuda():
    env = {"BWKIT_FORCE_CPU": "1", "CUDA_VISIBLE_DEVICES": "", "PATH": "/usr/bin:/bin"}
    res = subprocess.run([sys.executable, "-m", "bwkit.kit.cli", "doctor"], capture_output=True, text=True,
                         timeout=300, env=env)
    assert res.returncode == 0, res.stderr
    assert "no GPU" in res.stdout and "torch       2.15.0" in res.stdout
    assert "00 Hardware and roofline" in res.stdout


def test_docker_image_compiles_bytecode():
    """The hub image sets PYTHONDONTWRITEBYTECODE=1, so nothing compiles bytecode at run time: every install must
    compile it at build time (uv writes none by default; the Makefile's compileall step does it for the venv), and
    the kit's own lib/ is compiled too. Without it each kernel start recompiles torch (5.2 s -> 2.2 s import)."""
    text = re.sub(r"\\\n", " ", (ROOT / "deploy" / "jupyterhub" / "Dockerfile").read_text(encoding="utf-8"))
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    env = " ".join(ln for ln in lines if ln.startswith("ENV "))
    assert "PYTHONDONTWRITEBYTECODE=1" in env.split()
    cmds = [c.strip() for ln in lines if ln.startswith("RUN ") for c in ln[4:].split("&&")]
    uv = [c for c in cmds if c.startswith("uv pip install")]
    assert len(uv) == 2, uv
    for c in uv:
        assert "--compile-bytecode" in c.split(), c
    assert "python -m compileall -q /opt/bwkit/lib" in cmds
    assert cmds.index("python -m compileall -q /opt/bwkit/lib") > max(cmds.index(c) for c in uv)


def _lab_map(text: str) -> dict[str, set[str]]:
    """lab number -> module names, from the README's "Which lab teaches which module" sentence."""
    sentence = text.split("Which lab teaches which module:", 1)[1].split("(the same map", 1)[0]
    out: dict[str, set[str]] = {}
    for part in re.split(r";\s*", sentence):
        m = re.match(r"\s*(\d\d) (.*)", part, re.S)
        if m:
            out[m[1]] = set(re.findall(r"`(\w+)`", m[2]))
    return out


def _docstring_map(doc: str) -> dict[str, set[str]]:
    """lab number -> module names, from `bwkit`'s docstring (``names (what) [NN, MM]`` entries)."""
    body = doc.split("(the lab that teaches each in brackets):", 1)[1].split("The kit's machinery", 1)[0]
    out: dict[str, set[str]] = {}
    for names, labs in re.findall(r"([\w, ]+?)(?: \([^)]*\))? \[([\d, ]+)\]", body):
        for lab in re.findall(r"\d\d", labs):
            out.setdefault(lab, set()).update(n.strip() for n in names.split(",") if n.strip())
    return out


def test_readme_lab_module_map_matches_bwkit_docstring_and_the_tree():
    """The README says the lab -> module map "opens bwkit's docstring": the two agree, and every module exists."""
    import bwkit

    readme = _lab_map((ROOT / "README.md").read_text())
    doc = _docstring_map(bwkit.__doc__)
    assert readme == doc, {lab: (readme.get(lab), doc.get(lab)) for lab in set(readme) | set(doc)
                           if readme.get(lab) != doc.get(lab)}
    assert sorted(readme) == [f"{i:02d}" for i in range(11)]
    lib = ROOT / "lib" / "bwkit"
    for mods in readme.values():
        for m in mods:
            assert (lib / f"{m}.py").exists() or (lib / m / "__init__.py").exists(), m


def test_readme_lab_table_names_each_labs_cpu_paths():
    """Each row of the README's lab table names the same kinds of CPU path as `bwkit doctor` (the catalog)."""
    from bwkit.kit.catalog import LABS

    kinds = ("native", "interpreter", "compile-only", "emulated", "host JIT", "gloo")
    rows = dict(re.findall(r"^\| (\d\d) \|[^|]*\|[^|]*\| ([^|]*) \|$", (ROOT / "README.md").read_text(), re.M))
    assert sorted(rows) == [lab.number for lab in LABS]
    for lab in LABS:
        def named(text: str) -> list[str]:
            return [k for k in kinds if k in re.sub(r"\([^)]*\)", "", text)]
        assert named(rows[lab.number]) == named(lab.paths["cpu"]), (lab.number, rows[lab.number], lab.paths["cpu"])
