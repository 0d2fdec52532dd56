"""Integration templates (issue 10): one reviewed file per monitoring tool in
``callgoose/integrations/``, each with a service's rules (an S34 service entry without its
name), a short guide and samples of the tool's real webhook bodies.

In a guide, ``@CALLGOOSE_URL@`` stands for this server's endpoint, ``@CALLGOOSE_BASE@`` for its
root (an alert API's base URL, issue 18) and ``@CALLGOOSE_TOKEN@`` for a token; :func:`filled`
puts the real ones in. A template with an ``api`` (``opsgenie``) is for a tool that speaks that
API: its service has no rules, and its samples are that API's requests.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from .. import clock
from ..engine import SpecError
from ..engine.config import build_service
from ..engine.words import Say
from ..extensions import db
from ..store.transactions import write
from .catalog import find_service, live_service, save_service
from .tokens import ROUTING_KEY, create_token

URL_MARK = "@CALLGOOSE_URL@"
TOKEN_MARK = "@CALLGOOSE_TOKEN@"
BASE_MARK = "@CALLGOOSE_BASE@"
ENDPOINT_PATH = "/v1/process"
# The order the dashboard offers them in: the tools people run most first.
ORDER = ("alertmanager", "grafana", "zabbix", "uptime-kuma", "datadog", "sentry", "aws-sns-cloudwatch",
         "nagios", "icinga2", "newrelic", "azure-monitor", "github-actions", "healthchecks", "curl", "pagerduty",
         "opsgenie")
# Issue 18: a template whose tools speak another alert API than /v1/process: its endpoint, and
# the kind of token the guided setup makes for it.
API_PATHS = {"pagerduty": "/v2/enqueue", "opsgenie": "/v2/alerts"}
API_TOKENS = {"pagerduty": ROUTING_KEY}


@dataclass(frozen=True)
class Template:
    key: str
    name: str
    format: str  # where the tool documents its webhook body
    service: dict  # an S34 service entry without its name
    guide: str  # markdown, with URL_MARK and TOKEN_MARK
    samples: dict  # "firing" and "resolved": the tool's bodies for one alert
    more: dict  # other samples the tests use: "other" (another alert), "other_resolved"
    content_type: str = "application/json"  # what the tool sends its body as
    api: str | None = None  # issue 18: the alert API its tool speaks (pagerduty, opsgenie) instead of /v1/process

    @property
    def path(self) -> str:
        """The endpoint path the guide's ``@CALLGOOSE_URL@`` stands for."""
        return API_PATHS.get(self.api or "", "/v1/process")

    def as_json(self) -> dict:
        """What ``flask --app callgoose templates KEY`` prints."""
        return {"key": self.key, "name": self.name, "service": self.service, "guide": self.guide,
                "samples": self.samples}

    def sample_text(self, which: str = "firing") -> str:
        return json.dumps(self.samples.get(which) or self.more[which], indent=2, ensure_ascii=False)


def _read(text: str) -> Template:
    doc = tomllib.loads(text)
    samples = {k: json.loads(v) for k, v in doc["samples"].items()}
    return Template(doc["key"], doc["name"], doc["format"], json.loads(doc["service"]), doc["guide"].strip() + "\n",
                    {"firing": samples.pop("firing"), "resolved": samples.pop("resolved")}, samples,
                    doc.get("content_type", "application/json"), doc.get("api"))


@cache
def all_templates() -> dict[str, Template]:
    """Every template by key, in :data:`ORDER` (read once per process)."""
    folder = resources.files("callgoose") / "integrations"
    found = {t.key: t for t in (_read(f.read_text(encoding="utf-8")) for f in folder.iterdir()
                                if f.name.endswith(".toml"))}
    return {key: found[key] for key in ORDER if key in found} | found


def template(key: str) -> Template | None:
    return all_templates().get(key)


def filled(text: str, url: str, token: str | None) -> str:
    """A guide or snippet with this server's endpoint and a token (or a placeholder) in it."""
    path = next((p for p in (ENDPOINT_PATH, *API_PATHS.values()) if url.endswith(p)), "")
    base = url[:-len(path)] if path else url.rstrip("/")
    return text.replace(URL_MARK, url).replace(BASE_MARK, base).replace(TOKEN_MARK, token or "YOUR_TOKEN")


def _spec(name: str, key: str):
    found = template(key)
    if found is None:
        raise SpecError("template", Say(
                "no template %(key)s (flask --app callgoose templates lists them)", key=repr(key)))
    spec = build_service({"name": name, **found.service}, "name")
    if find_service(spec.name) is not None:
        raise SpecError("name", Say("a service named %(name)s exists already", name=repr(spec.name)))
    return found, spec


def create_service(name: str, key: str, now: float | None = None):
    """Create the service NAME with template KEY's rules and nothing else (no token).

    :raises SpecError: KEY is unknown, NAME is taken or not a service name."""
    at = clock.now() if now is None else now
    return write(lambda: save_service(_spec(name, key)[1], at))


@dataclass(frozen=True)
class SetUp:
    """A service made from a template, with a token of its own (the plaintext shown once)."""

    template: Template
    service_id: int
    service_name: str
    token_id: int | None
    plaintext: str | None


def set_up(name: str, key: str, now: float) -> SetUp:
    """The guided setup: the service from template KEY and a service token for it, in one
    transaction. :raises SpecError: an unknown template, a bad or taken name."""
    def work():
        found, spec = _spec(name, key)
        service = save_service(spec, now)
        db.session.flush()
        try:
            token, plaintext = create_token(f"{spec.name} ({found.name})"[:100], service.id, now,
                                            API_TOKENS.get(found.api or "", "token"))
        except ValueError as exc:  # a live token of that name exists already
            raise SpecError("name", str(exc)) from None
        db.session.flush()
        return SetUp(found, service.id, service.name, token.id, plaintext)
    return write(work)


def guide_for(service_id: int, key: str) -> SetUp | None:
    """A template's guide for an existing service (no token: it was shown once when made)."""
    found = template(key)
    service = live_service(service_id)
    if found is None or service is None:
        return None
    return SetUp(found, service.id, service.name, None, None)
