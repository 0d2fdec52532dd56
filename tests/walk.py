"""The walk (issue 21, item 4): a team's state seeded once, and every page of the dashboard
to visit in it, found from the app's URL map. A page nobody lists here (a new GET rule) makes
the walk fail, naming it, so that every new page is walked in every language.

``seed(app)`` creates the state (the German walk's team, services, incidents being paged, a
heartbeat, a replay; and an incident review draft, a maintenance window ahead, a priority, a
comment, a snoozed incident, a drill and its run, a shadow run) and returns a :class:`Walk`;
``visit(walk, app, fresh_app, headers)`` yields each page with its status and HTML, the
POSTed states (a dry run, a refused rule, a refused schedule) included; ``fresh_app`` is an
app with nobody in it yet (the first-run page)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from conftest import Setup, _add_user, _sign_in
from helpers import ALERTMANAGER, firing, post, resolved

# GET rules the walk does not visit, each with why: they render no HTML page of the dashboard.
SKIPPED = {
    "/": "redirects to /incidents",
    "/healthz": "JSON for load balancers",
    "/ical/<secret>.ics": "an iCalendar feed",
    "/incidents/<int:incident_id>/review.json": "JSON export",
    "/incidents/<int:incident_id>/review.md": "Markdown download (the review's data)",
    "/reports/<any(response, interruptions, oncall, rules):name>.csv": "CSV download",
    "/services/export": "a configuration download (JSON)",
    "/login/oidc": "redirects to the identity provider (OIDC)",
    "/login/oidc/callback": "the identity provider's redirect back (OIDC callback)",
    "/login/local": "only with single sign-on configured (tests/test_sso.py); the /login form otherwise",
    "/login/second-factor": "only between a password and a second factor; redirects otherwise "
                            "(tests/test_second_factors.py)",
    "/openapi.json": "the API's OpenAPI document (JSON)",
    "/manifest.webmanifest": "the web app manifest (JSON)",
    "/sw.js": "the service worker (JavaScript)",
    "/static/<path:filename>": "static files",
}
SKIPPED_PREFIXES = {
    "/v1/": "the JSON API",
    "/v2/": "the Opsgenie-compatible JSON API",
    "/api/": "JSON API",
    "/sqibs-api/": "JSON API",
}

# A fragment htmx swaps into a page: it has no <html> of its own.
FRAGMENTS = ("/incidents/rows", "/incidents/<int:incident_id>/live")

NIGHTLY = {"name": "nightly-jobs", "trigger": [{"conditions": []}, {
    "conditions": [{"json_key": "job", "contains": ["backup"]}], "map_incident_with": "job"}]}

TEAM = {
    "users": [{"email": "admin@example.com", "name": "Ana", "role": "admin",
               "contact_methods": [{"name": "mail", "type": "email", "address": "admin@example.com"}]},
              {"email": "bo@example.com", "name": "Bo",
               "contact_methods": [{"name": "mail", "type": "email", "address": "bo@example.com"}]},
              {"email": "cy@example.com", "name": "Cy"}],
    "schedules": [{"name": "rota", "time_zone": "Europe/Berlin", "layers": [
        {"name": "weekly", "users": ["admin@example.com", "bo@example.com", "cy@example.com"],
         "start": "2026-11-30T09:00", "shift": {"unit": "weeks", "count": 1}},
        {"name": "daytime", "users": ["bo@example.com"], "start": "2026-11-30T09:00",
         "shift": {"unit": "days", "count": 1},
         "restrictions": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00"}]}],
        "overrides": [{"user": "bo@example.com", "start": "2026-12-24T00:00+01:00",
                       "end": "2026-12-25T00:00+01:00"}]}],
    "escalation_policies": [{"name": "checkout", "repeat": 1, "levels": [
        {"escalate_after_minutes": 5, "targets": [{"user": "admin@example.com"}]},
        {"escalate_after_minutes": 5, "targets": [{"schedule": "rota"}]}]}],
}

# Names and data the seed creates, shown as they are (a service, a person, a rota's layers, a
# payload's title, what the review draft says), and names of products and formats.
NAMES = ("New Relic", "GitHub Actions", "Uptime Kuma", "Icinga", "(from)", "?from=", "checkout-api", "Alertmanager",
         "Prometheus", "weekly", "daytime", "rota", "checkout", "Ana", "Bo", "Cy", "nightly-jobs",
         "Incident from unknown source",  # S-rule titles are data: SPEC words them
         "CPU high", "Disk full", "Callgoose", "API", "Webhook", "JSON", "README", "UTC", "Europe/Berlin")

# What the seed created, as pages show it (the pseudo walk's data): names, titles, payloads'
# keys and values, a rota's layers, the review's link, the refused schedule's zone.
SEEDED = ("checkout-api", "nightly-jobs", "Incident from unknown source", "CPU high", "Disk full", "cpu at 99%",
          "Ana", "Bo", "Cy", "rota", "weekly", "daytime", "checkout", "nightly", "nights", "Mars/Olympus", "fire drill",
          "ana.slack", "groupKey", "commonAnnotations.summary", "commonAnnotations.description", "status",
          "firing", "resolved", "pending", "shadowed", "job", "backup", "g1", "g2", "g3", "test", "mail",
          "Europe/Berlin",
          "Email")  # the contact method a new user gets, by that name (stored: they may rename it)


@dataclass
class Visit:
    name: str  # what a failure names: the path, or the state a POST shows
    path: str
    who: str = "admin"  # admin or responder (signed in), anonymous, or fresh (an app with nobody in it yet)
    data: dict | None = None  # POSTed
    status: int = 200
    fragment: bool = False


@dataclass
class Walk:
    visits: list[Visit] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # GET rules nobody placed: the test fails naming them
    data: tuple[str, ...] = NAMES  # texts that are data, not wording (the walk in a language)
    seeded: tuple[str, ...] = ()  # what the seed created and pages show as it is (the pseudo walk)


def _skipped(rule: str) -> bool:
    return rule in SKIPPED or any(rule.startswith(prefix) for prefix in SKIPPED_PREFIXES)


def seed(app) -> Walk:
    """Seed a team's state in ``app`` (empty) and return the pages to visit in it."""
    from callgoose import clock
    from callgoose.engine import signing
    from callgoose.extensions import db
    from callgoose.jobs import escalate
    from callgoose.services.catalog import import_config

    _add_user(app)
    _add_user(app, "re@example.com", admin=False)  # a responder: the pages as they see them
    with app.app_context():
        import_config({**TEAM, "services": [{**ALERTMANAGER, "escalation_policy": "checkout"}, NIGHTLY]}, clock.now())
        db.session.commit()
    setup = Setup(app)
    token = setup.token()
    with app.test_client() as client:
        _sign_in(client, "admin@example.com", "correct horse")
        post(client, token, firing("g1"))
        post(client, token, firing("g1"))  # a replay: 208, with its reason
        post(client, token, firing("g2", "Disk full"))
        post(client, token, resolved("g2"))
        post(client, token, {"status": "pending", "groupKey": "g3"})
        with app.app_context():  # level 1 waited 5 minutes: the worker escalates to the rota
            escalate.run(db.engine, app.config, clock.now() + 6 * 60)
        client.post("/services/1/heartbeats", data={"name": "nightly", "json_key": "job", "contains": "backup",
                                                     "every_minutes": "60", "grace_minutes": "10"})
        client.post("/services/1/maintenance", data={  # a window ahead
            "action": "start", "starts": "2099-01-01T00:00", "until": "2099-01-02T00:00", "tags": ""})
        client.post("/incidents/2/review", data={  # a review draft of the resolved incident
            "summary": "Disk full", "root_cause": "Disk full", "rows": "1", "text-0": "Disk full",
            "owner-0": "", "link-0": "https://tickets.example/42"})
        schedule = setup.query("SELECT id FROM schedules ORDER BY id")[0][0]
        client.post("/drills", data={"target": f"schedule:{schedule}", "week": "1", "weekday": "0",
                                     "time": "14:00", "time_zone": "Europe/Berlin"})
        client.post("/drills/1/run")  # a drill run with its report
        client.post("/incidents/1/priority", data={"priority": "P1"})
        client.post("/incidents/1/comment", data={"text": "Disk full"})
        client.post("/incidents/3/acknowledge")
        client.post("/incidents/3/snooze", data={"minutes": "15"})
        client.post("/services/2/shadow", data={"shadow": "on"})  # a shadow run with an incident in it
        post(client, token, {"job": "backup", "status": "shadowed"})

    now = clock.now()
    key = app.config["SECRET_KEY"]
    bo = setup.query("SELECT id, password_hash FROM users WHERE email = 'bo@example.com'")[0]
    admin = setup.query("SELECT id FROM users WHERE email = 'admin@example.com'")[0][0]
    services = [row[0] for row in setup.query("SELECT id FROM services WHERE deleted_at IS NULL ORDER BY id")]
    rules = setup.query("SELECT id, service_id FROM rules ORDER BY service_id, position")
    trigger = setup.query("SELECT id FROM rules WHERE kind = 'trigger' AND service_id = 1 ORDER BY position")[0][0]
    incidents = [row[0] for row in setup.query("SELECT id FROM incidents ORDER BY id")]
    calls = [row[0] for row in setup.query("SELECT id FROM api_calls ORDER BY received_at")]
    audit = setup.query("SELECT id FROM audit_entries ORDER BY id")[-1][0]
    guides = sorted(p.stem for p in (Path(app.root_path) / "integrations").glob("*.toml"))

    walk = Walk()
    fill = {
        "/audit/<int:entry_id>/revert": [f"/audit/{audit}/revert"],
        "/calls/<call_id>": [f"/calls/{call}" for call in calls],
        "/incidents/<int:incident_id>": [f"/incidents/{i}" for i in incidents],
        "/incidents/<int:incident_id>/live": [f"/incidents/{incidents[0]}/live"],
        "/incidents/<int:incident_id>/review": [f"/incidents/{i}/review" for i in incidents[:2]],
        "/policies/<int:policy_id>": ["/policies/1"],
        "/schedules/<int:schedule_id>": [f"/schedules/{schedule}"],
        "/schedules/<int:schedule_id>/edit": [f"/schedules/{schedule}/edit"],
        "/schedules/<int:schedule_id>/json": [f"/schedules/{schedule}/json"],
        "/services/<int:service_id>": [f"/services/{s}" for s in services],
        "/services/<int:service_id>/delete": [f"/services/{services[0]}/delete"],
        "/services/<int:service_id>/guide/<key>": [f"/services/{services[0]}/guide/{g}" for g in guides],
        "/services/<int:service_id>/rules/<int:rule_id>": [f"/services/{s}/rules/{r}" for r, s in rules],
        "/services/<int:service_id>/rules/new/<kind>": [f"/services/{services[0]}/rules/new/{k}"
                                                       for k in ("trigger", "resolve")],
        "/services/<int:service_id>/simulate": [f"/services/{services[0]}/simulate"],
        "/slack/link/<token>": ["/slack/link/" + signing.make_slack_link(key, "T1", "U1", "ana.slack", now)],
    }
    anonymous = {  # pages a person sees before signing in
        "/login": ["/login"], "/forgot": ["/forgot"],
        "/invite/<token>": ["/invite/" + signing.make_access(key, bo[0], "invite", signing.password_stamp(bo[1] or ""),
                                                             now)],
        "/reset/<token>": ["/reset/" + signing.make_access(key, admin, "reset", signing.password_stamp(
            setup.query(f"SELECT password_hash FROM users WHERE id = {admin}")[0][0]), now)],
        "/l/<token>": ["/l/" + signing.make_link(key, incidents[0], "acknowledge", admin, now)],
    }
    fresh = {"/setup": ["/setup"]}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or _skipped(rule.rule):
            continue
        fragment = rule.rule in FRAGMENTS
        if rule.rule in fill:
            walk.visits += [Visit(rule.rule if "<token>" in rule.rule else path, path, fragment=fragment)
                            for path in fill[rule.rule]]
        elif rule.rule in anonymous:  # named by their rule: a signed token is no name
            walk.visits += [Visit(rule.rule if "<token>" in rule.rule else path, path, who="anonymous")
                            for path in anonymous[rule.rule]]
        elif rule.rule in fresh:
            walk.visits += [Visit(path, path, who="fresh") for path in fresh[rule.rule]]
        elif not rule.arguments:
            walk.visits.append(Visit(rule.rule, rule.rule, fragment=fragment))
        else:
            walk.unknown.append(rule.rule)
    # States a form shows after a POST: a rule's dry run, and faults (a resolve rule without a
    # condition, a schedule in no time zone).
    walk.visits += [
        Visit("dry run", f"/services/1/rules/{trigger}", data={
            "kind": "trigger", "urgency": "high", "cond-0-key": "status", "cond-0-mode": "all",
            "cond-0-items": "pending", "map_incident_with": "groupKey", "dry_run": "1"}),
        Visit("refused rule", "/services/1/rules/new/resolve", status=422, data={
            "kind": "resolve", "incident_mapped_with": "groupKey"}),
        Visit("refused schedule", "/schedules/new", status=422, data={
            "action": "save", "name": "nights", "time_zone": "Mars/Olympus", "layers-0-name": "n",
            "layers-0-start": "2026-12-01T20:00", "layers-0-count": "1", "layers-0-unit": "days",
            "layers-0-users": "bo@example.com"}),
    ]
    # What a responder sees differently: no admin controls, a note where one would be.
    walk.visits += [Visit(f"{path} (responder)", path, who="responder")
                    for path in ("/incidents/1", "/test", "/notifications/me", "/services/1", "/schedules/1",
                                 "/policies/1", "/settings")]
    # Error pages a person meets: a missing incident, a mail link that cannot act.
    walk.visits += [Visit("not found", "/incidents/999999", status=404),
                    Visit("void link", "/l/not-a-link", who="anonymous", status=410)]
    walk.data = NAMES + ("Mars/Olympus", "ana.slack", "tickets.example")
    walk.seeded = SEEDED
    return walk


def visit(walk: Walk, app, fresh_app, headers: dict):
    """Yield (visit, status, html) for every page of the walk, as ``headers`` ask for it."""
    for who, email in (("admin", "admin@example.com"), ("responder", "re@example.com")):
        with app.test_client() as signed_in:
            _sign_in(signed_in, email, "correct horse")
            for page in walk.visits:
                if page.who != who:
                    continue
                if page.data is None:
                    response = signed_in.get(page.path, headers=headers)
                else:
                    response = signed_in.post(page.path, data=page.data, headers=headers)
                yield page, response.status_code, response.get_data(as_text=True)
    for who, target in (("anonymous", app), ("fresh", fresh_app)):
        with target.test_client() as client:
            for page in walk.visits:
                if page.who == who:
                    response = client.get(page.path, headers=headers)
                    yield page, response.status_code, response.get_data(as_text=True)
