"""Isolation (issue 16's "done when"): three hazards on one install, and what they cost everyone else.

On one real ``serve`` process (worker inside, as a default install runs) the three inputs the
attack found:
- a rota the import accepts: 20 schedules of 20 hourly layers x 50 users, whose shifts have just
  begun, so the handoff job has work (and readiness and gap checks run over it);
- a dripping receiver: eight people's webhooks (any responder can add one) that answer one byte
  every two seconds, all paged at the start (more than the worker sends at once);
- a title with a line break, paging one person by mail.
Measured meanwhile: other people's pages, from the 201 to the real SMTP server's arrival (each
person their own service and policy, one call every 0.3 s), and ingestion latency at a steady
rate on a service that pages nobody, beside the bare Flask route's at the same rate, same run.

    python bench/isolation.py [--databases sqlite,postgres] [--seconds 75] [--people 40]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

from common import database, env_for, flask, percentile, pg_reachable, serve, serve_bare, stop
from receivers import SmtpServer

RULES = {"trigger": [{"conditions": [{"json_key": "status", "contains": ["firing"]}],
                      "title_from": "title", "map_incident_with": "id"}]}


class Drip:
    """An HTTP receiver that reads a request, then answers one byte every ``every`` seconds."""

    def __init__(self, every: float = 2.0):
        self.every, self.open = every, 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        self.sock.settimeout(0.5)
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn):
        self.open += 1
        with conn:
            try:
                conn.settimeout(5)
                conn.recv(65536)
                for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
                    if self.stopped.wait(self.every):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:
                pass

    def close(self):
        self.stopped.set()
        self.sock.close()


def config(people: int, start: str) -> dict:
    rota = [f"r{i}@bench.test" for i in range(50)]
    users = ([{"email": f"u{i}@bench.test", "contact_methods": [
        {"name": "mail", "type": "email", "address": f"u{i}@bench.test"}]} for i in range(people)]
        + [{"email": e, "contact_methods": [{"name": "mail", "type": "email", "address": e}]} for e in rota]
        + [{"email": f"drip{d}@bench.test", "contact_methods": [
            {"name": "hook", "type": "webhook", "url": "http://127.0.0.1:DRIP/hook", "format": "json"}]}
           for d in range(8)]
        + [{"email": "nl@bench.test", "contact_methods": [
               {"name": "mail", "type": "email", "address": "nl@bench.test"}]}])
    schedules = [{"name": f"rota{s}", "time_zone": "UTC", "layers": [
        {"name": f"l{layer}", "users": rota[layer:] + rota[:layer], "start": start,
         "shift": {"unit": "hours", "count": 1}} for layer in range(20)]} for s in range(20)]
    policies = ([{"name": f"p{i}", "levels": [{"escalate_after_minutes": 30, "targets": [
        {"user": f"u{i}@bench.test"}]}]} for i in range(people)]
        + [{"name": "drip", "levels": [{"escalate_after_minutes": 30, "targets": [
            {"user": f"drip{d}@bench.test"} for d in range(8)]}]},
           {"name": "nl", "levels": [{"escalate_after_minutes": 30, "targets": [{"user": "nl@bench.test"}]}]},
           {"name": "rota", "levels": [{"escalate_after_minutes": 30, "targets": [{"schedule": "rota0"}]}]}])
    services = ([{"name": f"s{i}", **RULES, "escalation_policy": f"p{i}"} for i in range(people)]
                + [{"name": "drip", **RULES, "escalation_policy": "drip"},
                   {"name": "nl", **RULES, "escalation_policy": "nl"},
                   {"name": "rota", **RULES, "escalation_policy": "rota"},
                   {"name": "plain", **RULES}])
    return {"users": users, "schedules": schedules, "escalation_policies": policies, "services": services}


def post(port: int, token: str, body: dict) -> tuple[int, float, float]:
    """POST; the status, the seconds it took, and when it was answered."""
    started = time.perf_counter()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/process", data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            return response.status, time.perf_counter() - started, time.time()
    except OSError:  # no answer within 30 s (counted as 30 s), or refused
        return 0, time.perf_counter() - started, time.time()


def steady(port: int, token: str, seconds: float, rate: float, prefix: str) -> list[float]:
    """Calls at a steady rate for ``seconds``; each one's latency in seconds (unanswered: its wait)."""
    took, n, end = [], 0, time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.monotonic()
        took.append(post(port, token, {"status": "firing", "id": f"{prefix}-{n}", "title": "load"})[1])
        n += 1
        time.sleep(max(0.0, 1 / rate - (time.monotonic() - started)))
    return took


def ms(values: list[float]) -> str:
    v = [x * 1000 for x in values]
    return (f"n={len(v):<5} p50 {statistics.median(v):7.1f} ms  p99 {percentile(v, 99):8.1f} ms  "
            f"max {max(v):8.1f} ms")


def run(kind: str, seconds: float, people: int) -> None:
    drip = Drip()
    with tempfile.TemporaryDirectory() as tmp, SmtpServer() as smtp, database(kind, Path(tmp)) as url:
        instance = Path(tmp)
        env = {**env_for(url, instance), "CALLGOOSE_SMTP_HOST": "127.0.0.1", "CALLGOOSE_SMTP_PORT": str(smtp.port),
               "CALLGOOSE_BASE_URL": "http://callgoose.bench", "CALLGOOSE_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"}
        flask(env, "init-db")
        start = (datetime.now(timezone.utc) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
        path = instance / "isolation.json"
        path.write_text(json.dumps(config(people, start)).replace("DRIP", str(drip.port)))
        flask(env, "import-config", str(path))
        token = {name: flask(env, "create-token", name, "--service", name).strip().splitlines()[-1]
                 for name in [f"s{i}" for i in range(people)] + ["drip", "nl", "plain"]}
        print(f"\n{kind}: 20 schedules x 20 hourly layers x 50 users, a dripping webhook, a title with a line "
              f"break; {people} other people paged one at a time; {seconds:.0f} s")
        bare, bare_port = serve_bare(env, instance)
        try:
            bare_took = steady(bare_port, "x", 5, 20, "bare")
        finally:
            stop(bare)
        proc, port = serve(env, instance, worker=True)
        try:
            quiet = steady(port, token["plain"], 5, 20, "quiet")  # the first 5 s: the jobs' first run
            post(port, token["drip"], {"status": "firing", "id": "drip", "title": "drip"})  # pages all eight
            post(port, token["nl"], {"status": "firing", "id": "nl", "title": "disk full\non db1\r\nand db2"})
            loaded: list[float] = []
            load = threading.Thread(target=lambda: loaded.extend(steady(port, token["plain"], seconds, 20, "load")))
            load.start()
            answered, pace = {}, max(0.3, seconds / max(people, 1) * 0.8)
            for i in range(people):
                status, _took, at = post(port, token[f"s{i}"], {"status": "firing", "id": f"p{i}", "title": "page"})
                if status != 201:
                    print(f"  (!) a page's call got {status or 'no answer'} after {_took:.1f} s")
                answered[f"u{i}@bench.test"] = at
                time.sleep(pace)
            load.join()
            deadline = time.time() + 30
            while time.time() < deadline:
                got = {r for _, rcpts in smtp.mailbox.envelopes for r in rcpts}
                if all(r in got for r in answered) and "nl@bench.test" in got:
                    break
                time.sleep(0.2)
            arrived = {}
            for (_, rcpts), at in zip(smtp.mailbox.envelopes, smtp.mailbox.times):
                for r in rcpts:
                    arrived.setdefault(r, at)
            latency = [arrived[r] - answered[r] for r in answered if r in arrived]
            missing = [r for r in answered if r not in arrived]
            print(f"  pages to others (201 -> mail)       {ms(latency) if latency else 'none arrived'}"
                  + (f"   (!) {len(missing)} never arrived" if missing else ""))
            print(f"  the title with a line break          {'mail arrived' if 'nl@bench.test' in arrived else '(!) no mail'}")
            print(f"  ingestion at 20/s during the jobs    {ms(loaded)}")
            print(f"  ingestion at 20/s, the first 5 s    {ms(quiet)}")
            print(f"  bare route at 20/s, same run         {ms(bare_took)}")
            errors = [line for line in (instance / f"serve-{port}.log").read_text().splitlines() if "ERROR" in line]
            print(f"  ERROR lines in the server's log: {len(errors)}" + (f" (first: {errors[0][:160]})" if errors else ""))
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except Exception:
                print("  (!) the server did not stop within 15 s of SIGTERM; killed")
                proc.kill()
                proc.wait()
            drip.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--seconds", type=float, default=75)
    parser.add_argument("--people", type=int, default=40)
    args = parser.parse_args()
    for kind in args.databases.split(","):
        if kind == "postgres" and not pg_reachable():
            print("postgres: not reachable, skipped")
            continue
        run(kind, args.seconds, args.people)


if __name__ == "__main__":
    sys.exit(main())
