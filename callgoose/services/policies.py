"""Escalation policies: their list, page and previews, saving and deleting them. A change bumps
the version of the services that use the policy (:func:`services_changed`), so every process
reloads their spec; incidents already open keep the copy they pinned.

Each public function is one transaction (or one read).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select

from .. import clock
from ..engine.oncall import MAX_LEVELS, check_minutes, check_policy_name
from ..engine.paging import Policy, describe_policy
from ..engine.policy_form import LevelRow, PolicyForm, form_of_levels
from ..engine.rules import SpecError
from ..engine.words import Plural, Say
from ..extensions import db
from ..store.models import EscalationPolicy, NotificationRule, Service, User
from ..store.transactions import write
from . import audit, people, schedules
from .contact_methods import reachable_users


@dataclass(frozen=True)
class PolicyView:
    policy: EscalationPolicy
    preview: str
    unreachable: list[str]  # targets with no verified contact method
    services: list[str]


def policy_of(policy: EscalationPolicy) -> Policy:
    """A stored policy as the engine reads it (what a new incident pins)."""
    return Policy.from_json({"name": policy.name, "repeat": policy.repeat, "levels": policy.levels})


def _methods_by_user() -> dict[int, str]:
    """How each user is paged first, as the channel's word (a :class:`Word`: "email",
    "voice"), for previews."""
    first = {}
    for rule in db.session.execute(select(NotificationRule).order_by(NotificationRule.after_minutes,
                                                                     NotificationRule.id)).scalars():
        if rule.method.verified_at is not None:
            first.setdefault(rule.user_id, rule.method.channel)
    return first


def policy_view(policy: EscalationPolicy, names=None, methods=None, reachable=None) -> PolicyView:
    names = people.names() if names is None else names
    methods = _methods_by_user() if methods is None else methods
    reachable = reachable_users() if reachable is None else reachable
    pinned = policy_of(policy)
    targets = dict.fromkeys(u for lv in pinned.levels for u in lv.users)
    services = list(db.session.execute(select(Service.name).where(
        Service.escalation_policy_id == policy.id, Service.live()).order_by(Service.name)).scalars())
    return PolicyView(policy, describe_policy(pinned, names, methods, schedules.schedule_names()),
                      [names.get(u, f"user {u}") for u in targets if u not in reachable], services)


def policies() -> list[PolicyView]:
    names, methods, reachable = people.names(), _methods_by_user(), reachable_users()
    return [policy_view(p, names, methods, reachable)
            for p in db.session.execute(select(EscalationPolicy).order_by(EscalationPolicy.name)).scalars()]


def policy(policy_id: int) -> EscalationPolicy | None:
    return db.session.get(EscalationPolicy, policy_id)


def policy_choices() -> list[tuple[int, str]]:
    return [(p.id, p.name) for p in db.session.execute(select(EscalationPolicy).order_by(EscalationPolicy.name)).scalars()]


def _levels_doc(levels: list[tuple]) -> list[dict]:
    """Each level as ``(minutes, user ids)`` or ``(minutes, user ids, schedule ids)``, checked:
    a fault's path counts targets users first, then schedules, as the form lists them."""
    if not levels:
        raise SpecError("levels", Say("needs at least one level"))
    if len(levels) > MAX_LEVELS:
        raise SpecError("levels", Plural("at most %(num)s level", "at most %(num)s levels", MAX_LEVELS, num=MAX_LEVELS))
    known = set(db.session.execute(select(User.id)).scalars())
    known_schedules = schedules.schedule_names()
    doc = []
    for i, (delay, users, *more) in enumerate(levels):
        users, rotas = list(dict.fromkeys(users)), list(dict.fromkeys(more[0] if more else ()))
        check_minutes(delay, f"levels[{i}].escalate_after_minutes", low=1)
        if not users and not rotas:
            raise SpecError(f"levels[{i}].targets", Say("needs at least one target: a person or a schedule"))
        for j, u in enumerate(users):
            if u not in known:
                raise SpecError(f"levels[{i}].targets[{j}]", Say("user %(u)s does not exist", u=u))
        for j, s in enumerate(rotas, start=len(users)):
            if s not in known_schedules:
                raise SpecError(f"levels[{i}].targets[{j}]", Say("schedule %(s)s does not exist", s=s))
        doc.append({"escalate_after_minutes": delay,
                    "targets": [{"user": u} for u in users] + [{"schedule": s} for s in rotas]})
    return doc


@dataclass(frozen=True)
class PolicyPage:
    """The policy's page: the stored policy (None for a new one), the form as it shows, and what
    a level can page: active users, and schedules (whoever is on call in them), by id."""

    policy: EscalationPolicy | None
    view: PolicyView | None
    form: PolicyForm
    people: list[User]
    schedules: dict[int, str]


def policy_page(policy_id: int | None, form: PolicyForm | None = None) -> PolicyPage | None:
    """The page, with ``form`` (a refused one, as typed) or the stored policy's; None: no such policy."""
    found = db.session.get(EscalationPolicy, policy_id) if policy_id is not None else None
    if policy_id is not None and found is None:
        return None
    if form is None:
        form = form_of_levels(found.name, found.repeat, found.levels) if found else PolicyForm(levels=(LevelRow("5"),))
    chosen = {u for row in form.levels for u in row.users}  # a deactivated target stays, so a save keeps it
    shown = list(db.session.execute(select(User).where(or_(User.active, User.id.in_(chosen)))
                                    .order_by(User.email)).scalars())
    rotas = dict(sorted(schedules.schedule_names().items(), key=lambda item: item[1]))
    return PolicyPage(found, policy_view(found) if found else None, form, shown, rotas)


def _store_policy(policy_id: int | None, name: str, repeat, levels: list[tuple],
                  now: float) -> EscalationPolicy | None:
    """Create or change a policy in the caller's transaction. :raises SpecError:"""
    name = check_policy_name(name, "name")
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 0 <= repeat <= 10:
        raise SpecError("repeat", Say("must be a whole number from 0 to 10"))
    doc = _levels_doc(levels)
    clash = db.session.execute(select(EscalationPolicy.id).where(EscalationPolicy.name == name)).scalar()
    if clash is not None and clash != policy_id:
        raise SpecError("name", Say("a policy called %(name)s exists already", name=repr(name)))
    if policy_id is None:
        found = EscalationPolicy(name=name, created_at=clock.to_db(now))
        db.session.add(found)
    else:
        found = db.session.get(EscalationPolicy, policy_id)
        if found is None:
            return None
    found.name, found.repeat, found.levels, found.updated_at = name, repeat, doc, clock.to_db(now)
    db.session.flush()
    services_changed(Service.escalation_policy_id == found.id)
    return found


def save_policy(policy_id: int | None, name: str, repeat, levels: list[tuple],
                now: float) -> EscalationPolicy | None:
    """Create or change a policy (audited); incidents already open keep the one they pinned.

    :raises SpecError:"""
    check_policy_name(name, "name")

    def work():
        before = policy_doc(policy_id) if policy_id is not None else None
        found = _store_policy(policy_id, name, repeat, levels, now)
        if found is not None:
            audit.record_change("policy", found.id, found.name, before, policy_doc(found.id))
        return found
    return write(work)


def save_policy_form(policy_id: int | None, form: PolicyForm, now: float) -> EscalationPolicy | None:
    """Save the posted form. :raises SpecError: its path counts levels and targets as the form shows them."""
    return save_policy(policy_id, form.name, form.repeat_count,
                       [(row.minutes, list(row.users), list(row.schedules)) for row in form.levels], now)


def delete_policy(policy_id: int) -> str | None:
    """Delete a policy (its services then page nobody); open incidents keep the copy they pinned."""
    def work():
        found = db.session.get(EscalationPolicy, policy_id)
        if found is None:
            return None
        name, before = found.name, policy_doc(policy_id)
        _delete(found)
        audit.record_change("policy", policy_id, name, before, None)
        return name
    return write(work)


def _delete(found: EscalationPolicy) -> None:
    db.session.execute(Service.__table__.update().where(Service.escalation_policy_id == found.id)
                       .values(escalation_policy_id=None, version=Service.version + 1))
    db.session.delete(found)
    db.session.flush()


def policy_doc(policy_id: int) -> dict | None:
    """The policy as the S34 document has it (targets by email and schedule name), for the audit
    log's difference; None when there is no such policy."""
    found = db.session.get(EscalationPolicy, policy_id)
    if found is None:
        return None
    emails, rotas = people.emails(), schedules.schedule_names()
    return {"name": found.name, "repeat": found.repeat, "levels": [
        {"escalate_after_minutes": lv["escalate_after_minutes"],
         "targets": [{"user": emails.get(t["user"], t["user"])} for t in lv["targets"] if "user" in t]
         + [{"schedule": rotas.get(t["schedule"], t["schedule"])} for t in lv["targets"] if "schedule" in t]}
        for lv in found.levels]}


def _apply_doc(policy_id: int | None, doc: dict | None, now: float) -> int | None:
    """Make the policy what ``doc`` (a :func:`policy_doc`) says, through the same checks as the
    form (an audit revert); None: deleted. :raises SpecError:"""
    found = db.session.get(EscalationPolicy, policy_id) if policy_id is not None else None
    if doc is None:
        if found is not None:
            _delete(found)
        return None
    users = {email: uid for uid, email in people.emails().items()}
    rotas = {name: sid for sid, name in schedules.schedule_names().items()}
    levels = []
    for i, level in enumerate(doc.get("levels") or []):
        targets = level.get("targets") or []
        for t in targets:
            if ("user" in t and t["user"] not in users) or ("schedule" in t and t["schedule"] not in rotas):
                raise SpecError(f"levels[{i}].targets", Say("%(target)s no longer exists",
                                                            target=t.get("user") or t.get("schedule")))
        levels.append((level.get("escalate_after_minutes"), [users[t["user"]] for t in targets if "user" in t],
                       [rotas[t["schedule"]] for t in targets if "schedule" in t]))
    stored = _store_policy(found.id if found is not None else None, doc.get("name"), doc.get("repeat"), levels, now)
    return stored.id


audit.revertible("policy", policy_doc, _apply_doc)


def services_changed(*conditions) -> None:
    """Bump the version of the services that match, so every process reloads their spec."""
    db.session.execute(Service.__table__.update().where(*conditions).values(version=Service.version + 1))
