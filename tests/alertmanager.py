"""Debian's real ``prometheus-alertmanager`` for tests (issue 18): start one with a receiver of
our choosing, fire and end alerts through its own API, and read its log.

CI installs it (``.ci/run``); elsewhere the tests that need it skip with the reason below.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

from servers import free_port, wait_for_port

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
SKIP = "needs Debian's prometheus-alertmanager (apt-get install prometheus-alertmanager; .ci/run installs it)"
# Short timings so a group is notified within seconds and its end within seconds more.
ROUTE = """
route:
  receiver: callgoose
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: callgoose
"""


@contextmanager
def running(receiver_yaml: str, workdir: Path):
    """Run Alertmanager with ``receiver_yaml`` (the ``callgoose`` receiver's body, indented
    four spaces, e.g. ``    pagerduty_configs: [...]``); yield its base URL and log path."""
    config = workdir / "alertmanager.yml"
    config.write_text(ROUTE + receiver_yaml)
    port = free_port()
    log = workdir / "alertmanager.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen([BINARY, f"--config.file={config}", f"--storage.path={workdir / 'am-data'}",
                                 f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
                                 "--log.level=debug"], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc, log=log)
        yield f"http://127.0.0.1:{port}", log
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _stamp(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def fire(base_url: str, alertname: str, *, ended: bool = False, **labels) -> None:
    """Post one alert to Alertmanager's API v2, firing now, or ended a minute ago."""
    now = datetime.now(timezone.utc)
    alert = {"labels": {"alertname": alertname, **labels},
             "annotations": {"summary": f"{alertname} on {labels.get('instance', 'host')}"},
             "startsAt": _stamp(now - timedelta(minutes=5)), "generatorURL": "http://prometheus.test/graph"}
    if ended:
        alert["endsAt"] = _stamp(now - timedelta(minutes=1))
    request = urllib.request.Request(f"{base_url}/api/v2/alerts", data=json.dumps([alert]).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 200, answer.status


def failures(log: Path) -> list[str]:
    """The lines of Alertmanager's log that say a notification failed."""
    return [line for line in log.read_text(errors="replace").splitlines()
            if "Notify for alerts failed" in line or "Notify attempt failed" in line
            or ("level=error" in line and "notify" in line.lower())]


def wait_until(check, timeout: float = 30.0, what: str = "condition"):
    """Poll ``check()`` until it returns something truthy; return it, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"{what} not reached within {timeout}s")
