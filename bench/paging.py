"""Trigger to delivery (issue 8): from the 201 of ``POST /v1/process`` to a real SMTP server
(aiosmtpd on loopback) receiving the page, with the worker in the serving process; and, in the
same run, to a local ntfy server (tests/providers/web.py's FakeNtfy) receiving the push (issue 17).

N users, each with their own service, token and one-level policy, so that no page waits
for another's rate limit. Two passes per database: calls one at a time (spaced out), and a
burst of all N at once from 8 threads. Beside them, in the same run, the floor: one bare
``smtplib`` send of the same size to the same server. Also printed: new incidents per
second with and without a policy (wrk, 8 connections), so paging's cost to ingestion is
measured, not assumed. And isolation: pages one at a time to ``--pairs`` more people, with
and without another person's webhook dripping its answer a byte a second meanwhile (the
sender stuck on it must delay nobody else's page). The ntfy figures page ``--ntfy`` more
people, each by an ntfy topic of their own, the same two ways, beside one bare JSON POST to the
same ntfy server (its floor).

    python bench/paging.py [--users 100] [--ntfy 100] [--pairs 20] [--databases sqlite,postgres] [--seconds 4]
"""

from __future__ import annotations

import argparse
import json
import secrets
import smtplib
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from pathlib import Path

from common import (
    NEW,
    database,
    env_for,
    flask,
    percentile,
    pg_reachable,
    serve,
    statuses_ok,
    stop,
    wrk,
)
from providers.web import FakeNtfy
from receivers import DripReceiver, SmtpServer


class TimedNtfy(FakeNtfy):
    """The fake ntfy server, noting when each push arrived (``time`` is whole seconds)."""

    def _accept(self, record: dict) -> None:
        super()._accept({**record, "arrived": time.time()})


RULES = {"trigger": [{"conditions": [{"json_key": "status", "contains": ["firing"]}],
                      "title_from": "title", "map_incident_with": "id"}]}


def config(users: int, drip_url: str = "http://127.0.0.1:9/drip") -> dict:
    rules = RULES
    drip = {"email": "drip@bench.test", "contact_methods": [{"name": "hook", "type": "webhook", "url": drip_url}],
            "notification_rules": [{"contact_method": "hook", "after_minutes": 0}]}
    doc = {
        "users": [{"email": f"u{i}@bench.test", "contact_methods": [
            {"name": "mail", "type": "email", "address": f"u{i}@bench.test"}]} for i in range(users)],
        "escalation_policies": [{"name": f"p{i}", "levels": [
            {"escalate_after_minutes": 30, "targets": [{"user": f"u{i}@bench.test"}]}]} for i in range(users)],
        "services": [{"name": f"s{i}", **rules, "escalation_policy": f"p{i}"} for i in range(users)]
        + [{"name": "bench", **rules}, {"name": "paged", **rules, "escalation_policy": "p0"}],
    }
    doc["users"].append(drip)
    doc["escalation_policies"].append({"name": "pdrip", "levels": [
        {"escalate_after_minutes": 30, "targets": [{"user": "drip@bench.test"}]}]})
    doc["services"].append({"name": "dripping", **rules, "escalation_policy": "pdrip"})
    return doc


def ntfy_config(people: int, base: str) -> dict:
    """People paged by ntfy only, each on a topic of their own, with a service and policy each
    (a second document: one may list at most 200 policies)."""
    return {"users": [{"email": f"n{i}@bench.test", "contact_methods": [
                          {"name": "push", "type": "ntfy", "url": f"{base}/bench-n{i}"}],
                       "notification_rules": [{"contact_method": "push", "after_minutes": 0}]} for i in range(people)],
            "escalation_policies": [{"name": f"pn{i}", "levels": [
                {"escalate_after_minutes": 30, "targets": [{"user": f"n{i}@bench.test"}]}]} for i in range(people)],
            "services": [{"name": f"n{i}", **RULES, "escalation_policy": f"pn{i}"} for i in range(people)]}


def post(port: int, token: str, body: dict) -> tuple[int, float]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/process", data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, time.time()


def floor_ms(port: int, runs: int = 30) -> list[float]:
    """One smtplib send to the same server, connection included: what any mail costs."""
    times = []
    for i in range(runs):
        message = EmailMessage()
        message["Subject"], message["From"], message["To"] = "[Callgoose] HIGH s0: floor", "a@b.test", "floor@bench.test"
        message.set_content("x" * 600)
        message.add_alternative("<p>" + "x" * 600 + "</p>", subtype="html")
        started = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.send_message(message)
        times.append((time.perf_counter() - started) * 1000)
    return times


def ntfy_floor_ms(ntfy: FakeNtfy, runs: int = 30) -> list[float]:
    """One bare JSON publish to the same ntfy server, connection included: what any push costs."""
    times = []
    for _ in range(runs):
        body = json.dumps({"topic": "floor", "title": "[Callgoose] HIGH n0: floor", "message": "x" * 300,
                           "priority": 5}).encode()
        request = urllib.request.Request(ntfy.base + "/", data=body, headers={"Content-Type": "application/json"})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
        times.append((time.perf_counter() - started) * 1000)
    return times


def pushes(ntfy: FakeNtfy, topics: list[str], answered: dict[str, float], timeout: float = 60) -> list[float]:
    """Seconds from each 201 to its push's arrival at the ntfy server."""
    with ntfy.lock:
        ntfy.lock.wait_for(lambda: set(topics) <= {m["topic"] for m in ntfy.messages}, timeout)
        arrived = {}
        for message in ntfy.messages:
            arrived.setdefault(message["topic"], message["arrived"])
    missing = [t for t in topics if t not in arrived]
    if missing:
        print(f"    (!) {len(missing)} pushes never arrived within {timeout} s")
    return [arrived[t] - answered[t] for t in topics if t in arrived]


def by_ntfy(port: int, ntfy: FakeNtfy, tokens: list[str]) -> None:
    """Page the ntfy people: half one at a time (spaced out), half in a burst from 8 threads."""
    half = len(tokens) // 2
    answered = {}
    for i in range(half):
        status, at = post(port, tokens[i], {"status": "firing", "id": f"push-{i}", "title": f"push {i}"})
        assert status == 201, status
        answered[f"bench-n{i}"] = at
        time.sleep(0.1)
    print(figures("one at a time (201 -> ntfy push)", pushes(ntfy, list(answered), answered)))
    answered = {}
    lock = threading.Lock()

    def fire(i):
        status, at = post(port, tokens[i], {"status": "firing", "id": f"push-{i}", "title": f"push {i}"})
        assert status == 201, status
        with lock:
            answered[f"bench-n{i}"] = at
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(fire, range(half, len(tokens))))
    print(figures(f"burst of {len(tokens) - half}, 8 threads (ntfy)", pushes(ntfy, list(answered), answered)))


def delivery(mailbox, recipients: list[str], answered: dict[str, float], timeout: float = 60) -> list[float]:
    """Seconds from each 201 to its mail's arrival."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with mailbox.arrived:
            got = {rcpt for _, rcpts in mailbox.envelopes for rcpt in rcpts}
            if all(r in got for r in recipients):
                break
            mailbox.arrived.wait(0.5)
    arrived = {}
    for (_, rcpts), at in zip(mailbox.envelopes, mailbox.times):
        for r in rcpts:
            arrived.setdefault(r, at)
    missing = [r for r in recipients if r not in arrived]
    if missing:
        print(f"    (!) {len(missing)} pages never arrived within {timeout} s")
    return [arrived[r] - answered[r] for r in recipients if r in arrived]


def figures(label: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (f"  {label:<34} n={len(ms):<4} p50 {statistics.median(ms):7.0f} ms   p95 {percentile(ms, 95):7.0f} ms"
            f"   p99 {percentile(ms, 99):7.0f} ms   max {max(ms):7.0f} ms")


def one_at_a_time(port: int, mailbox, tokens: dict[str, str], label: str) -> list[float]:
    """Page each of these people in turn (spaced out); seconds from each 201 to its mail."""
    answered = {}
    for recipient, token in tokens.items():
        status, at = post(port, token, {"status": "firing", "id": f"{label}-{recipient}", "title": label})
        assert status == 201, status
        answered[recipient] = at
        time.sleep(0.1)
    return delivery(mailbox, list(answered), answered)


def isolation(port: int, mailbox, tokens: dict[str, str], drip_token: str, drip) -> None:
    """Page latency with and without a dripping webhook on another person's method."""
    names = list(tokens)
    half = len(names) // 2
    calm = one_at_a_time(port, mailbox, {n: tokens[n] for n in names[:half]}, "calm")
    status, _ = post(port, drip_token, {"status": "firing", "id": "drip", "title": "drip"})
    assert status == 201, status
    assert drip.wait(1, timeout=15), "the dripping webhook was never called"
    dripping = one_at_a_time(port, mailbox, {n: tokens[n] for n in names[half:]}, "dripping")
    drip.release()
    print(figures("no dripping receiver (201 -> mail)", calm))
    print(figures("another's webhook drips meanwhile", dripping))


def run(kind: str, users: int, seconds: float, pairs: int = 20, ntfy_users: int = 100) -> None:
    with tempfile.TemporaryDirectory() as tmp, SmtpServer() as smtp, database(kind, Path(tmp)) as url, \
            DripReceiver(gap=1.0, limit=120) as drip, TimedNtfy() as ntfy:
        instance = Path(tmp)
        env = {**env_for(url, instance), "CALLGOOSE_SMTP_HOST": "127.0.0.1", "CALLGOOSE_SMTP_PORT": str(smtp.port),
               "CALLGOOSE_BASE_URL": "http://callgoose.bench", "CALLGOOSE_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"}
        flask(env, "init-db")
        path = instance / "paging.json"
        path.write_text(json.dumps(config(users + 2 * pairs, drip.url)))
        flask(env, "import-config", str(path))
        if ntfy_users:
            path.write_text(json.dumps(ntfy_config(ntfy_users, ntfy.base)))
            flask(env, "import-config", str(path))
        tokens = [flask(env, "create-token", f"t{i}", "--service", f"s{i}").strip().splitlines()[-1]
                  for i in range(users + 2 * pairs)]
        drip_token = flask(env, "create-token", "drip", "--service", "dripping").strip().splitlines()[-1]
        bench_token = flask(env, "create-token", "bench", "--service", "bench").strip().splitlines()[-1]
        paged_token = flask(env, "create-token", "paged", "--service", "paged").strip().splitlines()[-1]
        ntfy_tokens = [flask(env, "create-token", f"tn{i}", "--service", f"n{i}").strip().splitlines()[-1]
                       for i in range(ntfy_users)]
        proc, port = serve(env, instance, worker=True)
        try:
            floor = floor_ms(smtp.port)
            smtp.mailbox.envelopes.clear()
            smtp.mailbox.times.clear()
            print(f"\n{kind}: {users} users, one service and policy each; worker in the serving process")
            print(f"  floor: one smtplib send, p50 {statistics.median(floor):.1f} ms, p95 {percentile(floor, 95):.1f} ms")
            # one at a time
            half = users // 2
            answered = {}
            for i in range(half):
                status, at = post(port, tokens[i], {"status": "firing", "id": f"one-{i}", "title": f"one {i}"})
                assert status == 201, status
                answered[f"u{i}@bench.test"] = at
                time.sleep(0.1)
            print(figures("one at a time (201 -> mail)", delivery(smtp.mailbox, list(answered), answered)))
            # a burst
            answered = {}
            lock = threading.Lock()

            def fire(i):
                status, at = post(port, tokens[i], {"status": "firing", "id": f"burst-{i}", "title": f"burst {i}"})
                assert status == 201, status
                with lock:
                    answered[f"u{i}@bench.test"] = at
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(fire, range(half, users)))
            print(figures(f"burst of {users - half}, 8 threads", delivery(smtp.mailbox, list(answered), answered)))
            if ntfy_tokens:
                push_floor = ntfy_floor_ms(ntfy)
                print(f"  floor: one JSON POST to the ntfy server, p50 {statistics.median(push_floor):.1f} ms, "
                      f"p95 {percentile(push_floor, 95):.1f} ms")
                by_ntfy(port, ntfy, ntfy_tokens)
            isolation(port, smtp.mailbox, {f"u{i}@bench.test": tokens[i] for i in range(users, users + 2 * pairs)},
                      drip_token, drip)
            # what paging costs ingestion: new incidents on a service that pages vs one that does not
            compare(port, bench_token, paged_token, seconds, "worker in the process (it sends meanwhile)")
        finally:
            stop(proc)
        proc, port = serve(env, instance, worker=False)
        try:
            compare(port, bench_token, paged_token, seconds, "no worker (the transaction's own cost)")
        finally:
            stop(proc)


def compare(port: int, plain_token: str, paged_token: str, seconds: float, label: str) -> None:
    plain, paged = [], []
    for r in range(3):
        run_id = secrets.token_hex(3)
        plain.append(wrk(port, plain_token, NEW.replace("RUN", f"plain{run_id}"), 8, seconds))
        paged.append(wrk(port, paged_token, NEW.replace("RUN", f"paged{run_id}"), 8, seconds))
    p, q = statistics.median(x["rps"] for x in plain), statistics.median(x["rps"] for x in paged)
    print(f"  new incidents, 8 conn, median of 3 × {seconds:.0f} s, {label}:")
    print(f"    no policy {p:,.0f} req/s; with a policy (each pages one person) {q:,.0f} req/s = {q / p:.2f}"
          f"   statuses: {statuses_ok(plain + paged, 201)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--pairs", type=int, default=20, help="pages with and without a dripping webhook")
    parser.add_argument("--ntfy", type=int, default=100, help="people paged by ntfy (0: none)")
    args = parser.parse_args()
    for kind in args.databases.split(","):
        if kind == "postgres" and not pg_reachable():
            print("postgres: not reachable, skipped")
            continue
        run(kind, args.users, args.seconds, args.pairs, args.ntfy)


if __name__ == "__main__":
    sys.exit(main())
