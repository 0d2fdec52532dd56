"""Run Callgoose under waitress in other processes, for tests that need real servers."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 20.0, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text()[-2000:] if log else ""
            raise RuntimeError(f"server exited with {proc.returncode}: {tail}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start in {timeout}s")


def _environment(database_url: str, instance_path, **env) -> dict:
    return {**os.environ, "DATABASE_URL": database_url, "CALLGOOSE_INSTANCE_PATH": str(instance_path),
            "SECRET_KEY": "test", "PYTHONPATH": str(ROOT), **env}


def start_server(database_url: str, instance_path, port: int, threads: int = 8, *args: str, **env) -> subprocess.Popen:
    """Start ``flask serve`` on ``port`` in another process, its output in a log file; wait for it."""
    log = Path(instance_path) / f"server-{port}.log"  # a file: a pipe nobody reads would block
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "callgoose", "serve", "--port", str(port),
                                 "--threads", str(threads), *args], env=_environment(database_url, instance_path, **env),
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    wait_for_port(port, proc, log=log)
    return proc


def start_worker(database_url: str, instance_path, **env) -> subprocess.Popen:
    """Start ``flask worker`` (the background work alone) in another process."""
    with open(Path(instance_path) / "worker.log", "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "flask", "--app", "callgoose", "worker"],
                                env=_environment(database_url, instance_path, **env), cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT)


@contextmanager
def running_servers(database_url: str, instance_path, count: int = 1, threads: int = 8, *, worker_process=False,
                    **env):
    """Start ``count`` server processes on one database; yield their ports; stop them with SIGTERM.

    ``worker_process``: the servers run with ``--no-worker`` and one ``flask worker`` process does
    the background work (docs/deploy.md's layout). ``env``: more environment (``CALLGOOSE_...``).
    """
    procs, ports = [], []
    args = ("--no-worker",) if worker_process else ()
    try:
        for _ in range(count):
            ports.append(free_port())
            procs.append(start_server(database_url, instance_path, ports[-1], threads, *args, **env))
        if worker_process:
            procs.append(start_worker(database_url, instance_path, **env))
            ports.append(None)
        yield [p for p in ports if p is not None]
    finally:
        for proc in procs:
            proc.terminate()  # a graceful stop: calls in flight finish (at most 10 s)
        for proc, port in zip(procs, ports):
            try:
                assert proc.wait(timeout=15) == 0
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
                name = f"server-{port}.log" if port else "worker.log"
                log = (Path(instance_path) / name).read_text()[-2000:]
                raise RuntimeError(f"process did not stop on SIGTERM: {log}") from None


def post(port: int, token: str, body, path: str = "/v1/process") -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        conn.request("POST", path, body=data, headers={"Authorization": f"Bearer {token}",
                                                       "Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()
