"""Importing from another tool (issue 18, item 4), for the CLI and the dashboard alike: read
the saved export (a directory, or uploaded files), check the rota, check the document as an
import would, and apply it in one transaction through the configuration import (S34).

Who and what already exist in Callgoose keep what they have: an existing person keeps their
name, role, time zone, contact methods and rules (the old tool's methods they lack are added);
an existing service keeps its rules, webhooks and heartbeats (its escalation policy becomes
the imported one). Schedules and escalation policies of the same name are replaced.
"""

from __future__ import annotations

import io
import json
import re
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .. import channels, importers
from ..engine import SpecError, parse_config
from ..engine.oncall import parse_oncall
from ..importers import check as rota_check
from ..importers import plan as plans
from ..importers.base import ExportError, Imported, PlanItem, RotaEntry, Verdict
from . import catalog, oncall, schedules

MAX_FILES = 2000
TOOLS = tuple((key, importers.TOOL_NAMES[key]) for key in importers.IMPORTERS)  # (key, name) to choose from


@dataclass(frozen=True)
class Report:
    """An export read and checked: what the old tool had, what becomes of it, the rota check,
    and why Callgoose would refuse the document (None: it imports)."""

    imported: Imported
    notes: tuple[PlanItem, ...]  # what the database adds: who and what exists already
    rota: rota_check.RotaCheck
    fault: str | None = None

    @property
    def full(self) -> Imported:
        return Imported(self.imported.tool, self.imported.document, self.imported.plan + self.notes,
                        self.imported.rota)

    def text(self) -> str:
        found = plans.text(self.full, self.rota)
        return found + (f"\nCallgoose refuses this import: {self.fault}\n" if self.fault else "")

    def data(self) -> dict:
        return {**plans.data(self.full, self.rota), "fault": self.fault}


def _merged(doc: dict) -> tuple[dict, list[PlanItem]]:
    """The document as it will be applied: people and services that exist keep what they have."""
    current = catalog.current_config()
    users = {u["email"]: u for u in current["users"]}
    services = {s["name"]: s for s in current["services"]}
    notes, merged_users, merged_services = [], [], []
    for user in doc.get("users", []):
        have = users.get(user["email"])
        if have is None:
            merged_users.append(user)
            continue
        known = {(m["type"], m.get("address")) for m in have["contact_methods"]}
        names = {m["name"] for m in have["contact_methods"]}
        added, renames = [], {}
        for m in user.get("contact_methods", []):
            if (m["type"], m.get("address")) in known:
                continue
            name, n = m["name"], 2
            while name in names:
                name, n = f"{m['name']} {n}", n + 1
            names.add(name)
            renames[m["name"]] = name
            added.append({**m, "name": name})
        rules = [{**r, "contact_method": renames[r["contact_method"]]} for r in user.get("notification_rules", [])
                 if r["contact_method"] in renames]
        merged_users.append({**have, "contact_methods": have["contact_methods"] + added,
                             "notification_rules": have["notification_rules"] + rules})
        notes.append(PlanItem("user", f"{user['name']} ({user['email']})", Verdict.CHANGED,
                              f"already in Callgoose: keeps their name, role and rules; {len(added)} contact "
                              f"methods added"))
    for service in doc.get("services", []):
        have = services.get(service["name"])
        if have is None:
            merged_services.append(service)
            continue
        policy = service.get("escalation_policy") or have.get("escalation_policy")
        merged_services.append({**have, "escalation_policy": policy})
        notes.append(PlanItem("service", service["name"], Verdict.CHANGED, "already in Callgoose: keeps its rules, "
                              f"webhooks and heartbeats; its escalation policy becomes {policy or 'none'}"))
    wanted = {p["name"] for p in doc.get("escalation_policies", [])}
    kept = [p for p in current["escalation_policies"] if p["name"] not in wanted
            and any(s.get("escalation_policy") == p["name"] for s in merged_services)]
    existing = schedules.existing_names()
    notes += [PlanItem("schedule", s["name"], Verdict.CHANGED, "replaces the Callgoose schedule of that name "
                       "(layers and overrides)") for s in doc.get("schedules", []) if s["name"] in existing]
    policies = {p["name"] for p in current["escalation_policies"]}
    notes += [PlanItem("policy", p["name"], Verdict.CHANGED, "replaces the Callgoose escalation policy of that name")
              for p in doc.get("escalation_policies", []) if p["name"] in policies]
    return {**doc, "users": merged_users, "services": merged_services,
            "escalation_policies": doc.get("escalation_policies", []) + kept}, notes


def _fault(doc: dict) -> str | None:
    """Why the configuration import would refuse ``doc`` (None: it would not)."""
    try:
        parse_config(doc)
        parse_oncall(doc, oncall.existing_emails(), schedules.existing_names(), channels.REGISTRY)
    except SpecError as exc:
        return str(exc)
    return None


def examine(imported: Imported) -> Report:
    """Check what an importer read: the rota, and the document against this database."""
    try:
        merged, notes = _merged(imported.document)
    except SpecError as exc:  # a stored service cannot be rebuilt: nothing can be planned against it
        return Report(imported, (), rota_check.check(imported.document, imported.rota), str(exc))
    return Report(imported, tuple(notes), rota_check.check(imported.document, imported.rota), _fault(merged))


def read_export(tool: str, directory: Path) -> Report:
    """Read and check ``tool``'s export saved in ``directory``. :raises ExportError:."""
    return examine(importers.read(tool, directory))


def apply(report: Report, now: float) -> dict:
    """Import the document in one transaction (the plan and the rota check do not stop it).

    :raises SpecError: Callgoose refuses the document (nothing is saved)."""
    merged, _ = _merged(report.imported.document)
    catalog.import_config(merged, now)
    doc = report.imported.document
    return {key: len(doc.get(key, [])) for key in ("users", "schedules", "escalation_policies", "services")}


# ---- uploads (the dashboard) -------------------------------------------------------------------

def size(limit: int) -> str:
    """A size limit in words: "32 MiB", "4 KiB"."""
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit // 1024} KiB"


def _parts(name: str) -> tuple[str, ...]:
    parts = tuple(p for p in re.split(r"[\\/]+", name) if p not in ("", ".", ".."))
    if not parts or any(p.startswith(".") or p == "__MACOSX" for p in parts):
        return ()
    return parts


def _unzip(data: bytes, limit: int) -> list[tuple[tuple[str, ...], bytes]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in archive.infolist() if not i.is_dir() and _parts(i.filename)]
        if len(infos) > MAX_FILES or sum(i.file_size for i in infos) > limit:
            raise ExportError(f"the zip file holds more than {size(limit)} or {MAX_FILES} files")
        found = []
        for info in infos:
            with archive.open(info) as f:
                content = f.read(limit + 1)
            if len(content) > info.file_size:
                raise ExportError(f"{info.filename}: larger than the zip file says")
            found.append((_parts(info.filename), content))
        return found
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, RuntimeError):
        raise ExportError("the .zip file cannot be read (not a zip file, or an unsupported one)") from None


def unpack(files: list[tuple[str, bytes]], target: Path, limit: int) -> None:
    """Write uploaded files into ``target``: one .zip keeps its folders, loose files (a
    folder chosen in the browser sends its paths) keep theirs. :raises ExportError:."""
    if sum(len(content) for _, content in files) > limit:
        raise ExportError(f"the upload is larger than {size(limit)}")
    if len(files) == 1 and (files[0][0].lower().endswith(".zip") or files[0][1][:4] == b"PK\x03\x04"):
        found = _unzip(files[0][1], limit)
    else:
        found = [(_parts(name), content) for name, content in files if _parts(name)]
    if not found:
        raise ExportError("no files: choose the saved .json files, or one .zip of them")
    for parts, _ in found:
        if not parts[-1].lower().endswith(".json"):
            raise ExportError(f"{'/'.join(parts)}: not a .json file")
    tops = {parts[0] for parts, _ in found}
    strip = 1 if len(tops) == 1 and all(len(parts) > 1 for parts, _ in found) else 0
    for parts, content in found:
        path = target.joinpath(*PurePosixPath(*parts[strip:]).parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def read_upload(tool: str, files: list[tuple[str, bytes]], limit: int) -> Report:
    """Read and check an export uploaded as files. :raises ExportError:."""
    if len(files) > MAX_FILES:
        raise ExportError(f"more than {MAX_FILES} files")
    with tempfile.TemporaryDirectory(prefix="callgoose-import-") as directory:
        unpack(files, Path(directory), limit)
        return read_export(tool, Path(directory))


def bundle(report: Report) -> str:
    """What the dashboard's Import button sends back: the importer's result, as JSON."""
    imported = report.imported
    return json.dumps({"tool": imported.tool, "document": imported.document,
                       "plan": [[i.kind, i.name, i.verdict.value, i.why, i.source] for i in imported.plan],
                       "rota": [[e.schedule, e.start, e.end, list(e.users)] for e in imported.rota]},
                      ensure_ascii=False, separators=(",", ":"))


def unbundle(text: str) -> Report:
    """The report of a bundle, checked again. :raises ExportError: it is not one."""
    try:
        raw = json.loads(text)
        imported = Imported(raw["tool"], raw["document"],
                            tuple(PlanItem(k, n, Verdict(v), w, s) for k, n, v, w, s in raw["plan"]),
                            tuple(RotaEntry(s, float(a), float(b), tuple(u)) for s, a, b, u in raw["rota"]))
        if not isinstance(imported.document, dict):
            raise TypeError
        return examine(imported)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ExportError("the plan to import was lost or damaged: upload the files again") from None


def apply_bundle(text: str, now: float) -> tuple[Report, dict]:
    """Import what a plan page showed (the dashboard's Import button).

    :raises ExportError: the bundle is damaged, or Callgoose refuses the document."""
    report = unbundle(text)
    if report.fault:
        raise ExportError(f"Callgoose refuses this import: {report.fault}; nothing imported")
    try:
        return report, apply(report, now)
    except SpecError as exc:
        raise ExportError(f"Callgoose refuses this import: {exc}; nothing imported") from None
