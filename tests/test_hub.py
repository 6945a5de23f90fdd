"""A class on JupyterHub, for real: deploy/jupyterhub/jupyterhub_config.py serves three users on loopback.

The live test starts JupyterHub (the `hub` extra) with configurable-http-proxy (npm, `bwkit hub install-proxy`),
the dummy authenticator and SimpleLocalProcessSpawner (no system users); Chromium logs in three users, each opens
lab 00 in JupyterLab, runs its first cells and saves an answer; then `bwkit hub collect` builds the grading layout
and `bwkit grade` scores it. The Zero-to-JupyterHub values and the Dockerfile are checked statically (they need a
Kubernetes cluster, which no test here has).
"""

import copy
import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.parse
import urllib.request
from pathlib import Path

import nbformat
import pytest
import yaml
from browser_labs import CHROMIUM, FLAGS, accept_kernel_choice

from bwkit.kit import hub, notebooks

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy" / "jupyterhub"
BIN = Path(sys.executable).parent
ARTIFACTS = ROOT / "artifacts" / "hub"
LAB = "00_hardware_roofline"
SOLUTION = nbformat.read(ROOT / "solutions" / f"{LAB}.ipynb", as_version=4)
LAB_NB = notebooks.lab_from_solution(SOLUTION)
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kill_leftovers(root: Path) -> None:
    """Kill, by pid, the processes this test started that outlived the hub (their cwd is under `root`)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if cwd == str(root) or cwd.startswith(str(root) + os.sep):
            try:
                os.kill(int(proc.name), signal.SIGKILL)
            except OSError:
                pass


def _wait_http(url: str, proc: subprocess.Popen, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"JupyterHub did not answer at {url}:\n" + log.read_text()[-4000:])


def _lab_with(**answers: str):
    """Lab 00 as a learner saves it, with the solution cells named by id (e.g. ex00_5_solution) answered."""
    nb = copy.deepcopy(LAB_NB)
    for key, src in answers.items():
        [cell] = [c for c in nb.cells if c.id == key.replace("_", "-")]
        cell.source = src
    return nb


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        if os.environ.get("CI"):
            raise RuntimeError("CI must run the JupyterHub test: .ci/run installs Debian's chromium")
        pytest.skip("Chromium is not installed (apt-get install chromium); CI installs it and runs this test")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


def _run_cells(page) -> str:
    """Run the notebook's first two code cells (setup, doctor); return the first cell's output text."""
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=180000)
    out = page.locator(".jp-OutputArea-output", has_text="No CUDA GPU")
    text = ""
    for attempt in range(4):  # a run sent while the kernel is still connecting can be dropped: retry
        page.locator(".jp-Notebook .jp-CodeCell .jp-InputArea-editor").first.click()
        page.keyboard.press("Shift+Enter")
        try:
            out.first.wait_for(timeout=90000)
            text = out.first.inner_text()   # read it now: a retried run re-renders the output area
            if text:
                break
        except Exception:
            if attempt == 3:
                raise
    page.keyboard.press("Shift+Enter")  # the next cell: print(doctor_report())
    page.locator(".jp-OutputArea-output", has_text="Blackwell Lab Kit doctor").first.wait_for(timeout=120000)
    return text


def _type_answer(page, marker: str, source: str) -> None:
    """Replace the source of the code cell holding `marker` with `source`, as typed into the editor."""
    cell = page.locator(".jp-Notebook .jp-CodeCell", has_text=marker).first
    cell.scroll_into_view_if_needed()
    cell.locator(".jp-InputArea-editor .cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(source)


def _wait_saved(path: Path, sources: list[str], seconds: float = 30) -> None:
    """Wait until the notebook at `path` holds a code cell with each of `sources` (JupyterLab saved it)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            have = {c.source for c in nbformat.read(path, as_version=4).cells}
        except Exception:  # missing, or caught mid-write
            have = set()
        if set(sources) <= have:
            return
        time.sleep(0.3)
    pytest.fail(f"{path} was never saved with {sources!r}")


RIDGE = ("def ridge_point(peak_tflops: float, bandwidth_tbps: float) -> float:\n"
         "    return peak_tflops / bandwidth_tbps")


def test_class_on_jupyterhub(browser, tmp_path):
    t0 = time.monotonic()
    proxy = hub.install_proxy()  # no-op once installed (make test does it first)
    state, homes = tmp_path / "state", tmp_path / "home"
    state.mkdir()
    # carol worked on lab 00 before (00.5 answered): her copy must survive her first login to the hub;
    # erin deleted lab 00 (her labs folder has only lab 01); dave has a home but never used the hub
    carol_nb = homes / "carol" / hub.LABS_DIR / f"{LAB}.ipynb"
    carol_nb.parent.mkdir(parents=True)
    nbformat.write(_lab_with(ex00_5_solution="b200_ms = 10 * 4.8 / 8.0"), carol_nb)
    (homes / "erin" / hub.LABS_DIR).mkdir(parents=True)
    shutil.copy(ROOT / "labs" / "01_tensor_cores.ipynb", homes / "erin" / hub.LABS_DIR)
    (homes / "dave").mkdir()

    labs_before = {p.name for p in (ROOT / "labs").glob("*.ipynb")}
    port, api_port, proxy_port = _free_port(), _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "BWKIT_HUB"))}
    env.update(BWKIT_HUB_AUTH="dummy", BWKIT_HUB_IP="127.0.0.1", BWKIT_HUB_PORT=str(port),
               BWKIT_HUB_API_PORT=str(api_port), BWKIT_HUB_PROXY_API_PORT=str(proxy_port),
               BWKIT_HUB_STATE=str(state), BWKIT_HUB_USERS_ROOT=str(homes), BWKIT_HUB_PROXY=str(proxy),
               BWKIT_FORCE_CPU="1")
    log_path = tmp_path / "jupyterhub.log"
    log = open(log_path, "w")
    proc = subprocess.Popen([str(BIN / "jupyterhub"), "-f", str(DEPLOY / "jupyterhub_config.py")], cwd=state,
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    timings = {}
    try:
        _wait_http(f"{base}/hub/api/", proc, log_path)
        timings["hub up"] = time.monotonic() - t0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        answers = {"alice": [("def ridge_point", RIDGE), ("Exercise 00.4 (", 'answer = "memory"')],
                   "bob": [("Exercise 00.4 (", 'answer = "compute"')],
                   "carol": []}
        # the three users work at the same time: each phase is started for all before it is awaited
        pages = {}
        for user in answers:
            page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            accept_kernel_choice(page)      # three servers start at once: JupyterLab may ask before its specs came
            # log in, spawn, and land on the notebook (one JupyterLab page load, not two)
            spawn = f"/hub/spawn?next={urllib.parse.quote(f'/user/{user}/lab/tree/{hub.LABS_DIR}/{LAB}.ipynb')}"
            page.goto(f"{base}/hub/login?next={urllib.parse.quote(spawn)}")
            page.fill("#username_input", user)
            page.fill("#password_input", "any password")
            page.click("#login_submit")
            pages[user] = page
        for user, page in pages.items():
            page.wait_for_url(f"{base}/user/{user}/lab/tree/{hub.LABS_DIR}/{LAB}.ipynb", timeout=180000)
        timings["servers up"] = time.monotonic() - t0
        for user, page in pages.items():
            try:
                first = _run_cells(page)
                assert "Triton kernels run in the Triton interpreter" in first, first
                for marker, src in answers[user]:
                    _type_answer(page, marker, src)
                if answers[user]:
                    page.keyboard.press("Control+s")
                    _wait_saved(homes / user / hub.LABS_DIR / f"{LAB}.ipynb", [src for _, src in answers[user]])
            finally:
                page.screenshot(path=str(ARTIFACTS / f"{user}-lab00.png"))
            timings[f"{user} done"] = time.monotonic() - t0
        for page in pages.values():
            page.context.close()

        # first login seeded every lab (labs/ may grow meanwhile: the kit's developers work here), overwrote nothing
        labs_after = {p.name for p in (ROOT / "labs").glob("*.ipynb")}
        for user in answers:
            seeded = {p.name for p in (homes / user / hub.LABS_DIR).glob("*.ipynb")}
            assert labs_before <= seeded <= labs_after, (user, sorted(seeded))
        assert "b200_ms = 10 * 4.8 / 8.0" in carol_nb.read_text(encoding="utf-8")

        subs = tmp_path / "subs"
        r = subprocess.run([str(BIN / "bwkit"), "hub", "collect", "--users-root", str(homes), "--lab", "00",
                            "--out", str(subs)], capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert r.returncode == 0, r.stderr
        status = {line.split()[0]: line.split()[1] for line in r.stdout.splitlines()[:-1]}
        assert status == {"alice": "copied", "bob": "copied", "carol": "copied", "dave": "skipped",
                          "erin": "missing"}, r.stdout
        assert sorted(p.name for p in subs.iterdir()) == ["alice", "bob", "carol", "erin"]
        assert [p.name for p in (subs / "alice").iterdir()] == [f"{LAB}.ipynb"]
        assert list((subs / "erin").iterdir()) == []
    finally:
        proc.send_signal(signal.SIGTERM)  # the hub stops the users' servers and the proxy
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        _kill_leftovers(tmp_path)
    timings["hub stopped"] = time.monotonic() - t0

    grades = tmp_path / "grades"
    r = subprocess.run([str(BIN / "bwkit"), "grade", str(subs), "--lab", "00", "--out", str(grades),
                        "--workers", "2", "--timeout", "120"], capture_output=True, text=True, cwd=ROOT, timeout=400)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = {row["student"]: row for row in csv.DictReader(open(grades / "grades.csv", encoding="utf-8"))}
    points = {s: [float(row[f"00.{k}"]) for k in range(1, 6)] for s, row in rows.items()}
    assert points == {"alice": [2, 0, 0, 1, 0], "bob": [0, 0, 0, 0, 0], "carol": [0, 0, 0, 0, 1],
                      "erin": [0, 0, 0, 0, 0]}, rows
    assert {s: float(row["total"]) for s, row in rows.items()} == {"alice": 3, "bob": 0, "carol": 1, "erin": 0}
    assert "no notebook" in rows["erin"]["notes"], rows["erin"]
    bob = (grades / "feedback" / "bob.md").read_text(encoding="utf-8")
    assert "00.4 memory- or compute-bound: 0 / 1" in bob and "'compute'" in bob, bob
    timings["graded"] = time.monotonic() - t0
    print("timings (s):", {k: round(v) for k, v in timings.items()})


# ------------------------------------------------------------------ cluster files: checked statically only

VALUES = yaml.safe_load((DEPLOY / "z2jh-values.yaml").read_text(encoding="utf-8"))
# keys the chart accepts (jupyterhub/values.schema.yaml of Zero to JupyterHub 4.4.0; it rejects any other)
Z2JH_TOP = {"cull", "custom", "debug", "enabled", "fullnameOverride", "global", "httpRoute", "hub", "imagePullSecret",
            "imagePullSecrets", "ingress", "nameOverride", "prePuller", "proxy", "rbac", "scheduling", "singleuser"}
Z2JH_SINGLEUSER = {"allowPrivilegeEscalation", "cloudMetadata", "cmd", "cpu", "defaultUrl", "events",
                   "extraAnnotations", "extraContainers", "extraEnv", "extraFiles", "extraLabels", "extraNodeAffinity",
                   "extraPodAffinity", "extraPodAntiAffinity", "extraPodConfig", "extraResource", "extraTolerations",
                   "fsGid", "image", "initContainers", "lifecycleHooks", "memory", "networkPolicy", "networkTools",
                   "nodeSelector", "podNameTemplate", "profileList", "serviceAccountName", "startTimeout", "storage",
                   "uid"}
# KubeSpawner's own traits a profile may override here (jupyterhub-kubespawner 7.0.0, kubespawner/spawner.py);
# the others must be traits of JupyterHub's base Spawner (checked against the installed jupyterhub)
KUBESPAWNER_OWN = {"extra_resource_limits", "extra_resource_guarantees", "node_selector", "tolerations", "image"}
PROFILE_KEYS = {"display_name", "slug", "description", "default", "kubespawner_override", "profile_options"}


def _dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text(encoding="utf-8"))
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            kw, _, rest = line.partition(" ")
            out.append((kw.upper(), " ".join(rest.split())))
    return out


def _one(kw: str) -> str:
    [arg] = [a for k, a in _dockerfile() if k == kw]
    return arg


def test_helm_values_serve_the_kit_image_with_gpu_profiles():
    assert set(VALUES) <= Z2JH_TOP, set(VALUES) - Z2JH_TOP
    su = VALUES["singleuser"]
    assert set(su) <= Z2JH_SINGLEUSER, set(su) - Z2JH_SINGLEUSER
    cfg = VALUES["hub"]["config"]
    assert cfg["JupyterHub"]["authenticator_class"] == "nativeauthenticator.NativeAuthenticator"
    assert cfg["Authenticator"]["admin_users"] and cfg["NativeAuthenticator"]["open_signup"] is False
    assert su["image"]["name"] and su["image"]["tag"] == PYPROJECT["project"]["version"]
    # the image, the values and the one-machine hub agree on the command, the user, the home and the labs
    assert su["cmd"] == json.loads(_one("CMD")) == ["bwkit", "hub", "singleuser", "--"]
    assert str(su["uid"]) == _one("USER") == "1000"
    assert su["storage"]["homeMountPath"] == _one("WORKDIR") == "/home/jovyan"
    assert su["defaultUrl"] == f"/lab/tree/{hub.LABS_DIR}"
    assert f"BWKIT_LABS={su['extraEnv']['BWKIT_LABS']}" in _one("ENV").split()
    assert f"labs {su['extraEnv']['BWKIT_LABS']}" in [a for k, a in _dockerfile() if k == "COPY"]
    profiles = su["profileList"]
    assert [p.get("default", False) for p in profiles].count(True) == 1
    gpu = [p for p in profiles if "nvidia.com/gpu" in p.get("kubespawner_override", {}).get("extra_resource_limits",
                                                                                          {})]
    assert len(gpu) == 1, "one GPU profile (the native path)"
    over = gpu[0]["kubespawner_override"]
    from jupyterhub.spawner import Spawner

    base_traits = set(Spawner.class_trait_names(config=True))
    assert set(over) - KUBESPAWNER_OWN <= base_traits, set(over) - KUBESPAWNER_OWN - base_traits
    assert all(set(p) <= PROFILE_KEYS for p in profiles), profiles
    assert over["extra_resource_limits"]["nvidia.com/gpu"] == "1"  # a string: Kubernetes quantities
    assert over["node_selector"] and all(isinstance(v, str) for v in over["node_selector"].values())
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in over["tolerations"]
    assert not gpu[0].get("default"), "the GPU profile is chosen, not the default"


def test_dockerfile_installs_the_kits_pins(tmp_path):
    steps = _dockerfile()
    base = _one("FROM")
    m = re.fullmatch(r"python:(\d+)\.(\d+)-slim-\w+", base)
    assert m, base
    lo, hi = re.fullmatch(r">=(\d+\.\d+),<(\d+\.\d+)", PYPROJECT["project"]["requires-python"]).groups()
    assert tuple(map(int, lo.split("."))) <= (int(m[1]), int(m[2])) < tuple(map(int, hi.split(".")))
    env = _one("ENV").split()
    assert "PIP_CONSTRAINT=/dev/null" in env and "PATH=/opt/venv/bin:$PATH" in env
    copies = [a for k, a in steps if k == "COPY"]
    assert copies[0] == "pyproject.toml README.md /opt/bwkit/"
    runs = " && ".join(a for k, a in steps if k == "RUN")
    # the pins come from pyproject.toml itself; nothing else is installed but uv and the kit (no deps)
    assert "uv pip install --python /opt/venv/bin/python -r /opt/bwkit/pyproject.toml --extra hub" in runs
    assert "uv pip install --python /opt/venv/bin/python --no-deps -e /opt/bwkit" in runs
    packages = []
    for cmd in runs.split("&&"):
        words = cmd.split()
        if "install" not in words or "apt-get" in words:
            continue
        rest = iter(words[words.index("install") + 1:])
        for w in rest:
            if w in ("--python", "-r", "--extra"):
                next(rest)
            elif not w.startswith("-"):
                packages.append(w)
    assert packages == ['"uv>=0.5"', "/opt/bwkit"], packages
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").split()
    for src in ("pyproject.toml", "README.md", "lib/", "labs/", "solutions/"):
        assert f"!{src}" in ignore, src
    # what that install resolves to (PyPI, as the build does): the kit's exact pins, and a JupyterHub 5
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    for f in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / f, ctx / f)
    r = subprocess.run([str(BIN / "uv"), "pip", "compile", "-q", "pyproject.toml", "--extra", "hub",
                        "--python-version", f"{m[1]}.{m[2]}", "--python-platform", "x86_64-unknown-linux-gnu"],
                       cwd=ctx, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PIP_CONSTRAINT": "/dev/null"})
    assert r.returncode == 0, r.stderr[-2000:]
    resolved = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", r.stdout, flags=re.M))
    pins = [re.match(r"^([A-Za-z0-9_.-]+)==([^;\s]+)", d) for d in PYPROJECT["project"]["dependencies"]]
    for pin in filter(None, pins):
        assert resolved.get(pin[1]) == pin[2], (pin[1], resolved.get(pin[1]))
    assert resolved["jupyterhub"].startswith("5."), resolved["jupyterhub"]
    assert resolved["jupyterlab"].startswith("4.6."), resolved["jupyterlab"]


def test_seed_never_overwrites_and_collect_refuses_a_used_folder(tmp_path):
    src = tmp_path / "labs"
    (src / ".ipynb_checkpoints").mkdir(parents=True)
    (src / "00_x.ipynb").write_text("official 00")
    (src / "01_y.ipynb").write_text("official 01")
    (src / ".ipynb_checkpoints" / "00_x-checkpoint.ipynb").write_text("junk")
    dest = tmp_path / "home" / "ann" / hub.LABS_DIR
    dest.mkdir(parents=True)
    (dest / "00_x.ipynb").write_text("ann's work")
    assert hub.seed_labs(dest, src) == [dest / "01_y.ipynb"]
    assert (dest / "00_x.ipynb").read_text() == "ann's work"
    assert not (dest / ".ipynb_checkpoints").exists()
    assert hub.seed_labs(dest, src) == []
    with pytest.raises(hub.HubError, match="no labs folder"):
        hub.seed_labs(dest, tmp_path / "nowhere")
    out = tmp_path / "subs"
    (out / "old").mkdir(parents=True)
    with pytest.raises(hub.HubError, match="not empty"):
        hub.collect(tmp_path / "home", "00", out)
    with pytest.raises(hub.HubError, match="unknown lab"):
        hub.collect(tmp_path / "home", "42", tmp_path / "new")
    rows = hub.collect(tmp_path / "home", "00", tmp_path / "new", users=["ann", "zed"])
    assert [(r.user, r.status) for r in rows] == [("ann", "missing"), ("zed", "skipped")]


def _load_hub_config(monkeypatch, tmp_path, **env):
    from traitlets.config.loader import PyFileConfigLoader

    for k in [k for k in os.environ if k.startswith("BWKIT_HUB")]:
        monkeypatch.delenv(k)
    monkeypatch.setenv("BWKIT_HUB_STATE", str(tmp_path))
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return PyFileConfigLoader("jupyterhub_config.py", str(DEPLOY)).load_config()


def test_hub_config_modes(monkeypatch, tmp_path):
    pam = _load_hub_config(monkeypatch, tmp_path, BWKIT_HUB_PROXY="/bin/true")
    assert pam.JupyterHub.authenticator_class == "pam" and pam.JupyterHub.spawner_class == "localprocess"
    assert pam.PAMAuthenticator.allowed_groups == {"bwkit-students"}
    assert pam.JupyterHub.bind_url == "http://:8000"  # every interface: put TLS in front
    assert pam.Spawner.cmd[:3] == [str(BIN / "bwkit"), "hub", "singleuser"] and pam.Spawner.args == []
    assert pam.JupyterHub.db_url == f"sqlite:///{tmp_path / 'jupyterhub.sqlite'}"
    dummy = _load_hub_config(monkeypatch, tmp_path, BWKIT_HUB_AUTH="dummy", BWKIT_HUB_USERS="ann,bo",
                             BWKIT_HUB_PROXY="/bin/true")
    assert dummy.JupyterHub.spawner_class == "simple" and dummy.Authenticator.allowed_users == {"ann", "bo"}
    assert dummy.JupyterHub.bind_url == "http://127.0.0.1:8000"
    assert dummy.SimpleLocalProcessSpawner.home_dir_template == str(tmp_path / "homes" / "{username}")
    with pytest.raises(ValueError, match="loopback only"):
        _load_hub_config(monkeypatch, tmp_path, BWKIT_HUB_AUTH="dummy", BWKIT_HUB_IP="0.0.0.0",
                         BWKIT_HUB_PROXY="/bin/true")
    with pytest.raises(ValueError, match="'pam' or 'dummy'"):
        _load_hub_config(monkeypatch, tmp_path, BWKIT_HUB_AUTH="ldap")


def test_collect_force_drops_a_deleted_notebook_and_bad_outs_fail_in_one_line(tmp_path, capsys):
    from bwkit.kit import cli
    from bwkit.kit.grading import find_lab

    name = f"{find_lab('00').stem}.ipynb"
    homes, out = tmp_path / "home", tmp_path / "subs"
    (homes / "ann" / hub.LABS_DIR).mkdir(parents=True)
    (homes / "ann" / hub.LABS_DIR / name).write_text("ann's work")
    assert [(r.user, r.status) for r in hub.collect(homes, "00", out)] == [("ann", "copied")]
    (homes / "ann" / hub.LABS_DIR / name).unlink()          # ann deleted her notebook since
    assert [(r.user, r.status) for r in hub.collect(homes, "00", out, force=True)] == [("ann", "missing")]
    assert not (out / "ann" / name).exists(), "a stale copy would be graded as ann's"
    (homes / "ann" / hub.LABS_DIR / name).write_text("ann's work")
    (homes / "bob" / hub.LABS_DIR).mkdir(parents=True)                 # someone else, so the run is not empty
    (homes / "bob" / hub.LABS_DIR / name).write_text("bob's work")
    hub.collect(homes, "00", out, force=True)
    shutil.rmtree(homes / "ann" / hub.LABS_DIR)                        # her whole labs folder has gone since
    rows = {r.user: r.status for r in hub.collect(homes, "00", out, force=True)}
    assert rows == {"ann": "skipped", "bob": "copied"} and not (out / "ann" / name).exists()
    assert sorted(p.name for p in out.iterdir()) == ["bob"], "an empty ann/ would be graded as a 0-point row"
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(hub.HubError, match="exists and is not a folder"):
        hub.collect(homes, "00", afile)
    with pytest.raises(hub.HubError, match="cannot write"):
        hub.collect(homes, "00", afile / "subs")
    with pytest.raises(hub.HubError, match="^no home zed under"):
        hub.collect(homes, "00", tmp_path / "new", users=["zed"])
    assert cli.main(["hub", "collect", "--users-root", str(homes), "--lab", "00", "--out", str(afile / "s")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hub: cannot write") and len(err.strip().splitlines()) == 1
