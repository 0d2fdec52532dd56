"""Payloads and request helpers the tests share (plain functions; the fixtures are in conftest)."""

import json

NOTHING = {"resolved": {"duplicate": False, "resolved": False},
           "triggered": {"duplicate": False, "created": False}}


T0 = 1_800_000_000.0  # the clock of tests that set it (the ``now`` fixture)

ALERTMANAGER = {
    "name": "checkout-api",
    "trigger": [{"conditions": [{"json_key": "status", "contains": ["firing"]}],
                 "title_from": "commonAnnotations.summary",
                 "description_from": "commonAnnotations.description",
                 "map_incident_with": "groupKey"}],
    "resolve": [{"conditions": [{"json_key": "status", "contains": ["resolved"]}],
                 "incident_mapped_with": "groupKey"}],
}


def firing(key: str = "g1", summary: str = "CPU high", **extra) -> dict:
    return {"status": "firing", "groupKey": key,
            "commonAnnotations": {"summary": summary, "description": "cpu at 99%"}, **extra}


def resolved(key: str = "g1") -> dict:
    return {"status": "resolved", "groupKey": key}


def as_json(value):
    """A JSON column as read back: text on SQLite, already parsed on PostgreSQL."""
    return json.loads(value) if isinstance(value, str) else value


def post(client, token, body, *, path="/v1/process", query="", headers=None, content_type=None):
    """POST a body (a dict or list is sent as JSON) with a Bearer token."""
    headers = {"Authorization": f"Bearer {token}", **(headers or {})}
    if isinstance(body, (dict, list)):
        body, content_type = json.dumps(body), content_type or "application/json"
    return client.post(path + query, data=body, headers=headers, content_type=content_type)


def flags(response):
    """The S30 flags of an answer (asserting its keys)."""
    body = response.get_json()
    assert set(body) - {"reason"} == {"id", "resolved", "triggered"}  # S30's fields, exactly as they are
    assert ("reason" in body) == (response.status_code in (202, 208)), body  # issue 10: a 202 or 208 says why
    assert "reason" not in body or (isinstance(body["reason"], str) and body["reason"]), body
    return {k: body[k] for k in ("resolved", "triggered")}


EVENT_SERVICE = {"name": "checkout-api", "trigger": [], "resolve": []}


def paged_service(**service) -> dict:
    """A document: checkout-api (no rules: an alert API's events name what they ask, issue 18)
    paging Ana by email through the policy "checkout"; ``service``: more of its fields."""
    return {"users": [{"email": "ana@example.com", "contact_methods": [
                {"name": "mail", "type": "email", "address": "ana@example.com"}]}],
            "escalation_policies": [{"name": "checkout", "levels": [
                {"escalate_after_minutes": 5, "targets": [{"user": "ana@example.com"}]}]}],
            "services": [{**EVENT_SERVICE, "escalation_policy": "checkout", **service}]}


def rota_document(schedules: int = 20, layers: int = 20, users: int = 50, zone: str = "Europe/Berlin") -> dict:
    """The isolation issue's large rota: ``schedules`` schedules of ``layers`` hourly layers of
    ``users`` people each (every person with a verified email), their handoffs staggered by
    three minutes a layer; odd layers only on weekdays 09-17, so the layers below show through.
    Each schedule has a policy, and the service ``rota`` pages the first."""
    emails = [f"u{i:03d}@example.com" for i in range(users)]

    def layer(n: int) -> dict:
        doc = {"name": f"l{n}", "users": emails[n % users:] + emails[:n % users],
               "start": f"2026-01-05T00:{(3 * n) % 60:02d}", "shift": {"unit": "hours", "count": 1}}
        if n % 2:
            doc["restrictions"] = [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00"}]
        return doc
    return {
        "users": [{"email": e, "contact_methods": [{"name": "mail", "type": "email", "address": e}]} for e in emails],
        "schedules": [{"name": f"rota{s:03d}", "time_zone": zone, "layers": [layer(n) for n in range(layers)]}
                      for s in range(schedules)],
        "escalation_policies": [{"name": f"rota{s:03d}", "levels": [
            {"escalate_after_minutes": 5, "targets": [{"schedule": f"rota{s:03d}"}]}]} for s in range(schedules)],
        "services": [{**ALERTMANAGER, "name": "rota", "escalation_policy": "rota000"}],
    }


def configure(app, doc: dict) -> None:
    """Import a configuration document (S34, with its on-call part) into ``app``, now."""
    from callgoose import clock
    from callgoose.services.catalog import import_config

    with app.app_context():
        import_config(doc, clock.now())


def run_jobs(app, now: float) -> None:
    """One worker tick's paging work at ``now``: escalations, then the sends they queued."""
    from callgoose.extensions import db
    from callgoose.jobs import deliver, escalate

    with app.app_context():
        escalate.run(db.engine, app.config, now)
        deliver.run(db.engine, app.config, now)


def rota_mismatches(document: dict, rota) -> list[tuple]:
    """The framework's rota check (callgoose.importers.check) as (schedule, start, old tool's
    people, Callgoose's people), one per part of an entry where they differ."""
    from callgoose.importers.check import check

    return [(m.schedule, m.start, m.old, m.new) for m in check(document, rota).mismatches]


def give_totp(app, email: str) -> str:
    """Turn on an authenticator app for ``email`` (as their /settings would); its secret. The
    code used is this 30-second step's, so the next sign-in takes :func:`next_code`."""
    import pyotp
    from sqlalchemy import select

    from callgoose import clock
    from callgoose.extensions import db
    from callgoose.services import second_factors
    from callgoose.store.models import User

    secret = pyotp.random_base32()
    with app.app_context():
        user_id = db.session.execute(select(User.id).where(User.email == email)).scalar_one()
        assert second_factors.enrol_totp(user_id, secret, pyotp.TOTP(secret).now(), clock.now()) is not None
    return secret


def next_code(secret: str) -> str:
    """A code of the next 30-second step: accepted (one step either side) and never a replay."""
    import time

    import pyotp

    return pyotp.TOTP(secret).at(int(time.time()) + 30)


def virtual_authenticator(page):
    """Chromium's virtual authenticator on ``page`` (the DevTools protocol's WebAuthn domain: CTAP2,
    built in, resident keys, user verification): (the DevTools session, the authenticator's id)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    found = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True}})
    return cdp, found["authenticatorId"]
