"""Integration templates (issue 10): one reviewed file per monitoring tool in
``callgoose/integrations/``, each with a service's rules (an S34 service entry without its
name), a short guide and samples of the tool's real webhook bodies.

In a guide, ``@CALLGOOSE_URL@`` stands for this server's endpoint and ``@CALLGOOSE_TOKEN@`` for a
token; :func:`filled` puts the real ones in.
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
from ..store.transactions import write
from .catalog import find_service, save_service

URL_MARK = "@CALLGOOSE_URL@"
TOKEN_MARK = "@CALLGOOSE_TOKEN@"
# The order the dashboard offers them in: the tools people run most first.
ORDER = ("alertmanager", "grafana", "zabbix", "uptime-kuma", "datadog", "sentry", "aws-sns-cloudwatch",
         "nagios", "icinga2", "newrelic", "azure-monitor", "github-actions", "healthchecks", "curl")


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
                    doc.get("content_type", "application/json"))


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
    return text.replace(URL_MARK, url).replace(TOKEN_MARK, token or "YOUR_TOKEN")


def create_service(name: str, key: str, now: float | None = None):
    """Create the service NAME with template KEY's rules and nothing else (no token).

    :raises SpecError: KEY is unknown, NAME is taken or not a service name."""
    found = template(key)
    if found is None:
        raise SpecError("template", f"no template {key!r} (flask --app callgoose templates lists them)")
    spec = build_service({"name": name, **found.service}, "service")
    at = clock.now() if now is None else now

    def work():
        if find_service(spec.name) is not None:
            raise SpecError("name", f"a service named {spec.name!r} exists already")
        return save_service(spec, at)
    return write(work)
