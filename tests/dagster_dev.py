"""`dagster dev` as a test fixture: started on a free loopback port in its own process group,
ready once the webserver answers and the code location has loaded, stopped by its process group
(SIGTERM, then SIGKILL after a grace period) with no process left behind.

A `dagster dev` started in the background inherits ignored SIGINT/SIGTERM from a non-interactive
shell and then ignores them too; the child here gets default handlers back before exec.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"

WORKSPACE_QUERY = """
{ workspaceOrError { __typename
    ... on Workspace { locationEntries { name loadStatus
        locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _default_signals() -> None:  # runs in the child between fork and exec
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def is_alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class DagsterDev:
    """One `dagster dev` (webserver, daemon, code servers) for the project in REPO."""

    def __init__(self, env: dict[str, str], log_path: Path, port: int | None = None,
                 command: list[str] | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log_path = log_path
        venv_bin = str(Path(sys.executable).parent)  # dbt and dagster of this environment
        self.env = {**os.environ, **env, "PYTHONUNBUFFERED": "1",
                    "PATH": venv_bin + os.pathsep + os.environ.get("PATH", "")}
        self.command = command
        self.proc: subprocess.Popen | None = None
        self.pgid: int | None = None
        self._seen: dict[int, psutil.Process] = {}
        self.stop_report: dict = {}

    # ------------------------------------------------------------------------------ start
    def start(self) -> DagsterDev:
        # Same command as `make dev` (the project is found through [tool.dg] in pyproject.toml).
        cmd = [sys.executable, "-m", "dagster", "dev", "--host", HOST, "--port", str(self.port)]
        if self.command is not None:  # e.g. `warehouse dev`, which execs the same dagster dev
            cmd = [*self.command, "--port", str(self.port)]
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            cmd, cwd=REPO, env=self.env, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_default_signals,
        )
        self.pgid = os.getpgid(self.proc.pid)
        assert self.pgid == self.proc.pid, "dagster dev is not the leader of its own process group"
        self.started = time.monotonic()
        return self

    def log_tail(self, n: int = 60) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return ""
        return "\n".join(lines[-n:])

    def graphql(self, query: str, variables: dict | None = None, timeout: float = 30) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.load(response)

    def wait_ready(self, timeout: float = 180) -> float:
        """Block until /server_info answers and every code location is loaded; seconds waited."""
        deadline = self.started + timeout
        phase = "webserver"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dagster dev exited with {self.proc.returncode}:\n{self.log_tail()}")
            self.processes()  # remember every process of the group while it is up
            try:
                if phase == "webserver":
                    with urllib.request.urlopen(f"{self.url}/server_info", timeout=5) as response:
                        json.load(response)
                    phase = "code location"
                entries = self.graphql(WORKSPACE_QUERY)["data"]["workspaceOrError"]["locationEntries"]
                if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                    errors = [e for e in entries if e["locationOrLoadError"]["__typename"] != "RepositoryLocation"]
                    if errors:
                        raise RuntimeError(f"code location failed to load: {errors}\n{self.log_tail()}")
                    return time.monotonic() - self.started
            except (urllib.error.URLError, ConnectionError, TimeoutError, socket.timeout, KeyError, TypeError):
                pass
            time.sleep(1)
        raise TimeoutError(f"dagster dev not ready ({phase}) after {timeout:.0f} s:\n{self.log_tail()}")

    # ------------------------------------------------------------------------- inspect
    def processes(self) -> list[psutil.Process]:
        """The live processes of the group (leader, webserver, daemon, code servers, ...)."""
        found = []
        for proc in psutil.process_iter():
            try:
                if os.getpgid(proc.pid) == self.pgid:
                    found.append(proc)
            except (ProcessLookupError, psutil.NoSuchProcess):
                continue
        try:  # descendants too, in case one moved to a group of its own
            found.extend(psutil.Process(self.proc.pid).children(recursive=True))
        except psutil.NoSuchProcess:
            pass
        for proc in found:
            self._seen.setdefault(proc.pid, proc)
        return list({p.pid: p for p in found}.values())

    def listening(self) -> list[tuple[int, str, int]]:
        """(pid, address, port) of every TCP socket the group listens on."""
        out = []
        for proc in self.processes():
            try:
                conns = proc.net_connections(kind="inet")
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            out.extend((proc.pid, c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN)
        return out

    # ---------------------------------------------------------------------------- stop
    def stop(self, grace: float = 20) -> dict:
        """SIGTERM to the process group, SIGKILL to whatever is left after `grace` seconds.

        Returns {"sigkill": bool, "seconds": float, "left": [pids still alive]}."""
        if self.proc is None:
            return {"sigkill": False, "seconds": 0.0, "left": []}
        self.processes()
        tracked = list(self._seen.values())
        t0 = time.monotonic()
        sigkill = False
        try:
            os.killpg(self.pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        while time.monotonic() - t0 < grace and any(is_alive(p) for p in tracked + self.processes()):
            self.proc.poll()  # reap the leader
            time.sleep(0.2)
        leftovers = [p for p in tracked + self.processes() if is_alive(p)]
        if leftovers:
            sigkill = True
            try:
                os.killpg(self.pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            for p in leftovers:  # also any that left the group
                try:
                    p.kill()
                except psutil.NoSuchProcess:
                    pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        end = time.monotonic() + 10
        while time.monotonic() < end and any(is_alive(p) for p in tracked + self.processes()):
            time.sleep(0.2)
        self._log.close()
        left = sorted({p.pid for p in tracked + self.processes() if is_alive(p)})
        self.stop_report = {"sigkill": sigkill, "seconds": round(time.monotonic() - t0, 1), "left": left,
                            "processes": len(self._seen)}
        return self.stop_report

    def __enter__(self) -> DagsterDev:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
