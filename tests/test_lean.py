"""Issue 22: the ingestion routes answered before Flask (web/lean.py) answer as the Flask
views do; the views stay reachable (a WSGI stack without the middleware) and answer the same."""

from __future__ import annotations

import json

import pytest
from helpers import ALERTMANAGER, firing
from werkzeug.test import Client

from callgoose import clock
from callgoose.extensions import db
from callgoose.services.tokens import create_token
from callgoose.web.errors import SECURITY_HEADERS


@pytest.fixture
def both(app, setup):
    """Two clients on one app: through the middleware (as waitress calls it) and to Flask alone."""
    setup.services(ALERTMANAGER)
    return app.test_client(), Client(app.extensions["callgoose_lean"].inner), setup


def api_token(app) -> str:
    with app.app_context():
        _, plaintext = create_token("read", None, clock.now(), scope="read")
        db.session.commit()
    return plaintext


def answer_of(response, theirs: str = "") -> tuple:
    body = json.loads(response.get_data(as_text=True).replace(theirs or "\0", "g-"))
    shown = {k: ("<id>" if k in ("id", "call_id") else v) for k, v in body.items()}
    headers = {name: response.headers.get(name) for name, _ in SECURITY_HEADERS}
    return response.status_code, response.headers.get("Content-Type"), shown, headers


@pytest.mark.parametrize("case", ["new", "repeat", "unknown token", "api token", "bad json"])
def test_v1_process_answers_alike_with_and_without_the_middleware(both, case):
    lean, flask_only, setup = both
    token = {"unknown token": "cg_nope", "api token": api_token(setup.app) if case == "api token" else None}.get(case) \
        or setup.token()
    body = "{not json" if case == "bad json" else json.dumps(firing("g-" + case))
    answers = []
    for client in (lean, flask_only):
        if case == "repeat":
            client.post("/v1/process", data=body, headers={"Authorization": f"Bearer {token}"},
                        content_type="application/json")
        answers.append(answer_of(client.post("/v1/process", data=body, content_type="application/json",
                                             headers={"Authorization": f"Bearer {token}"}),
                                 theirs="h-" if client is flask_only else ""))
        body = body.replace("g-", "h-")  # the second client's own incident, not the first's repeat
    assert answers[0] == answers[1]
    assert answers[0][0] == {"new": 201, "repeat": 208, "unknown token": 401, "api token": 403,
                             "bad json": 202}[case]


@pytest.mark.parametrize("case", ["trigger", "change", "invalid key", "no key"])
def test_pagerduty_answers_alike_with_and_without_the_middleware(both, case):
    lean, flask_only, setup = both
    key = setup.token("pd", service=ALERTMANAGER["name"])
    event = {"routing_key": key, "event_action": "trigger", "dedup_key": "k",
             "payload": {"summary": "CPU high", "source": "db1", "severity": "critical"}}
    path = "/v2/change/enqueue" if case == "change" else "/v2/enqueue"
    if case == "change":
        event = {"routing_key": key, "payload": {"summary": "deployed", "source": "ci"}}
    elif case == "invalid key":
        event["routing_key"] = "x" * 32
    elif case == "no key":
        del event["routing_key"]
    answers = [answer_of(client.post(path, data=json.dumps(event), content_type="application/json"))
               for client in (lean, flask_only)]
    assert answers[0] == answers[1]
    assert answers[0][0] == (400 if case in ("invalid key", "no key") else 202)
    assert answers[0][1] == "application/json" and all(answers[0][3].values())
