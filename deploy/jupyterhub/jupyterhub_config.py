"""JupyterHub on one machine, serving the Blackwell Lab Kit's environment (the venv this hub runs from).

    sudo .venv/bin/jupyterhub -f deploy/jupyterhub/jupyterhub_config.py          # or: sudo make hub

Every setting has a default; the environment variables below change them (read once, at hub start):

    BWKIT_HUB_AUTH      pam (default): the machine's accounts (PAMAuthenticator), each user's server runs as that
                        user (LocalProcessSpawner), homes are the users' own (/home/NAME); the hub runs as root.
                        dummy: any name, any password, every server runs as the hub's own user with its home
                        under BWKIT_HUB_USERS_ROOT (SimpleLocalProcessSpawner): a trial or a test, loopback only.
    BWKIT_HUB_GROUP     pam: the Unix group allowed to log in (default bwkit-students; create it and add students)
    BWKIT_HUB_USERS     comma-separated user names allowed to log in (replaces the group; any mode)
    BWKIT_HUB_ADMINS    comma-separated admin users (they see the hub's admin page)
    BWKIT_HUB_IP        address to listen on (default: all interfaces for pam, 127.0.0.1 for dummy)
    BWKIT_HUB_PORT      public port (default 8000); put TLS in front (or set ssl_cert/ssl_key) on a real network
    BWKIT_HUB_API_PORT / BWKIT_HUB_PROXY_API_PORT   the hub's and the proxy's internal ports (8081, 8001)
    BWKIT_HUB_STATE     folder for the hub's database, cookie secret and proxy pid (default: the current folder)
    BWKIT_HUB_USERS_ROOT  dummy: the folder holding the users' homes (default BWKIT_HUB_STATE/homes)
    BWKIT_HUB_LABS_DIR  the folder of each home that receives the labs (default blackwell-labs)
    BWKIT_LABS          the labs handed out (default: the kit's labs/, generated from solutions/)
    BWKIT_HUB_PROXY     the configurable-http-proxy command (default: `bwkit hub install-proxy`'s copy, or PATH)

At each server start the user's process runs `bwkit hub singleuser`: it copies the labs that are missing from
~/blackwell-labs (never overwriting the user's work), then starts JupyterLab (jupyterhub-singleuser) in the home.
The instructor collects the notebooks for `bwkit grade` with
`bwkit hub collect --users-root /home --lab 00 --out subs/` (dummy: --users-root BWKIT_HUB_USERS_ROOT).
For PAM, the kit's folder and its venv must be readable by the students (install the kit under /opt, not /root).
"""

import ipaddress
import os
import sys
from pathlib import Path

from bwkit.kit import hub as bwhub

c = get_config()  # noqa: F821 - JupyterHub's config loader provides get_config

AUTH = os.environ.get("BWKIT_HUB_AUTH", "pam").strip().lower()
if AUTH not in ("pam", "dummy"):
    raise ValueError(f"BWKIT_HUB_AUTH must be 'pam' or 'dummy', got {AUTH!r}")
STATE = Path(os.environ.get("BWKIT_HUB_STATE") or os.getcwd()).resolve()
STATE.mkdir(parents=True, exist_ok=True)
IP = os.environ.get("BWKIT_HUB_IP", "127.0.0.1" if AUTH == "dummy" else "")
PORT = int(os.environ.get("BWKIT_HUB_PORT", "8000"))
API_PORT = int(os.environ.get("BWKIT_HUB_API_PORT", "8081"))
PROXY_API_PORT = int(os.environ.get("BWKIT_HUB_PROXY_API_PORT", "8001"))
LABS_DIR = os.environ.get("BWKIT_HUB_LABS_DIR", bwhub.LABS_DIR)
BIN = Path(sys.executable).parent  # the kit's venv: the hub and every user's server run from it


def _names(var: str) -> set[str]:
    return {n.strip() for n in os.environ.get(var, "").split(",") if n.strip()}


# ---- network and state
c.JupyterHub.bind_url = f"http://{IP}:{PORT}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{API_PORT}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PROXY_API_PORT}"
c.ConfigurableHTTPProxy.command = bwhub.proxy_command()
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops the users' servers (their files stay)

# ---- who may log in
admins = _names("BWKIT_HUB_ADMINS")
if admins:
    c.Authenticator.admin_users = admins
if _names("BWKIT_HUB_USERS"):
    c.Authenticator.allowed_users = _names("BWKIT_HUB_USERS")
if AUTH == "pam":
    c.JupyterHub.authenticator_class = "pam"
    if not _names("BWKIT_HUB_USERS"):
        c.PAMAuthenticator.allowed_groups = {os.environ.get("BWKIT_HUB_GROUP", "bwkit-students")}
    c.JupyterHub.spawner_class = "localprocess"
    c.Spawner.notebook_dir = "~"
else:
    if not ipaddress.ip_address(IP or "0.0.0.0").is_loopback:
        raise ValueError(f"BWKIT_HUB_AUTH=dummy lets anybody in: it listens on loopback only, not {IP or '*'}")
    c.JupyterHub.authenticator_class = "dummy"
    c.JupyterHub.spawner_class = "simple"
    users_root = Path(os.environ.get("BWKIT_HUB_USERS_ROOT") or STATE / "homes").resolve()
    users_root.mkdir(parents=True, exist_ok=True)
    c.SimpleLocalProcessSpawner.home_dir_template = str(users_root / "{username}")

# ---- each user's server: seed the labs, then JupyterLab in the home, with the kit's kernel (this venv's python)
c.Spawner.cmd = [str(BIN / "bwkit"), "hub", "singleuser", "--labs-dir", LABS_DIR, "--"]
server_args = []
if AUTH == "dummy" and os.geteuid() == 0:
    server_args.append("--allow-root")  # every dummy user's server runs as the hub's user
c.Spawner.args = server_args
c.Spawner.default_url = f"/lab/tree/{LABS_DIR}"
c.Spawner.environment = {
    "BWKIT_LABS": str(bwhub.default_labs()),
    "PATH": os.pathsep.join([str(BIN), os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")]),  # terminals too
}
c.Spawner.env_keep = ["LANG", "LC_ALL", "LD_LIBRARY_PATH", "JUPYTERHUB_SINGLEUSER_APP", "BWKIT_FORCE_CPU",
                      "CUDA_VISIBLE_DEVICES"]
c.Spawner.start_timeout = 180   # the first start on a busy machine imports a lot
c.Spawner.http_timeout = 120
