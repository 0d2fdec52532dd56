"""The audit log's pure part (issue 19, item 5): the structural difference of two configuration
documents, its inverse (a revert), the words that say it, and the hash chain.

A difference is a list of changes ``{"path": [...], "old": value, "new": value}``; a side that
is missing (a thing added or removed) has no key. A path step is a key (text), an index (a
number), or ``{"name": ...}`` for an item of a list of named things (services, policies,
contact methods), so an item keeps its path when others come and go. A secret (a webhook's
secret, a token's value) is never stored: its change reads ``{"path": [...], "secret": true}``.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass

from .words import Joined, Say

SECRET_KEYS = frozenset({"secret", "password", "password_hash", "token", "auth_token"})
_ABSENT = object()


def _named(items: list) -> bool:
    names = [item.get("name") for item in items if isinstance(item, dict)]
    return len(names) == len(items) and all(isinstance(n, str) for n in names) and len(set(names)) == len(names)


def diff(before, after) -> list[dict]:
    """The changed paths between two documents (None on one side: the thing is absent)."""
    return _diff(_ABSENT if before is None else before, _ABSENT if after is None else after, ())


def _diff(before, after, path: tuple) -> list[dict]:
    if before == after and type(before) is type(after):
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        changes = []
        for key in sorted(set(before) | set(after), key=str):
            old, new = before.get(key, _ABSENT), after.get(key, _ABSENT)
            if key in SECRET_KEYS:
                if old != new:
                    changes.append({"path": [*path, key], "secret": True})
                continue
            changes += _diff(old, new, (*path, key))
        return changes
    if isinstance(before, list) and isinstance(after, list):
        if _named(before) and _named(after):
            old = {item["name"]: item for item in before}
            new = {item["name"]: item for item in after}
            changes = []
            for name in [*old, *(n for n in new if n not in old)]:
                changes += _diff(old.get(name, _ABSENT), new.get(name, _ABSENT), (*path, {"name": name}))
            return changes
        if len(before) == len(after) and all(isinstance(i, (dict, list)) for i in before + after):
            return [c for i, (b, a) in enumerate(zip(before, after)) for c in _diff(b, a, (*path, i))]
    change: dict = {"path": list(path)}
    for side, value in (("old", before), ("new", after)):
        if value is not _ABSENT:
            change[side] = _without_secrets(value)
    return [change]


def _without_secrets(value):
    if isinstance(value, dict):
        return {k: ("(secret)" if k in SECRET_KEYS and v else _without_secrets(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_secrets(v) for v in value]
    return value


def _step(container, step):
    """The child at ``step``, or _ABSENT."""
    if isinstance(step, dict) and isinstance(container, list):
        return next((i for i in container if isinstance(i, dict) and i.get("name") == step.get("name")), _ABSENT)
    if isinstance(step, int) and isinstance(container, list):
        return container[step] if 0 <= step < len(container) else _ABSENT
    if isinstance(step, str) and isinstance(container, dict):
        return container.get(step, _ABSENT)
    return _ABSENT


def value_at(doc, path: list):
    """The value at ``path`` in ``doc`` (a private marker when there is none)."""
    for step in path:
        doc = _step(doc, step)
        if doc is _ABSENT:
            return _ABSENT
    return doc


def _put(doc, path: list, value) -> None:
    """Set (or with _ABSENT remove) the value at ``path``; missing parents are made as dicts."""
    *parents, last = path
    for step in parents:
        child = _step(doc, step)
        if child is _ABSENT:
            child = {"name": step["name"]} if isinstance(step, dict) else {}
            if isinstance(step, dict):
                doc.append(child)
            else:
                doc[step] = child
        doc = child
    if isinstance(last, dict):
        doc[:] = [i for i in doc if not (isinstance(i, dict) and i.get("name") == last["name"])]
        if value is not _ABSENT:
            doc.append(value)
    elif value is _ABSENT:
        if isinstance(doc, dict):
            doc.pop(last, None)
        elif 0 <= last < len(doc):
            del doc[last]
    else:
        doc[last] = value


class NotRevertible(ValueError):
    """A difference that cannot be undone as it stands (a secret, or paths changed since)."""

    def __init__(self, reason: Say, paths: list | None = None):
        super().__init__(reason)
        self.reason = reason
        self.paths = paths or []


def revert(current, changes: list[dict]):
    """``current`` (None: absent) with each change's old value put back, only at the paths it changed.

    :raises NotRevertible: a secret changed (its old value was never stored), or a path holds
    something else than the change left there (changed again since: revert that first)."""
    current = _ABSENT if current is None else current
    if any(c.get("secret") for c in changes):
        raise NotRevertible(Say("it changed a secret, which the audit log never stores"))
    moved = [c["path"] for c in changes if value_at(current, c["path"]) != c.get("new", _ABSENT)]
    if moved:
        raise NotRevertible(Say("changed again since: %(paths)s", paths=", ".join(path_text(p) for p in moved)),
                            moved)
    result = copy.deepcopy(current)
    for change in changes:
        old = copy.deepcopy(change["old"]) if "old" in change else _ABSENT
        if not change["path"]:  # the whole thing was made or removed
            result = old
        else:
            _put(result, change["path"], old)
    return None if result is _ABSENT else result


def path_text(path: list) -> str:
    """A path as people read it: ``levels[1].escalate_after_minutes``, ``services[checkout]``."""
    text = ""
    for step in path:
        if isinstance(step, dict):
            text += f"[{step.get('name')}]"
        elif isinstance(step, int):
            text += f"[{step}]"
        else:
            text += f".{step}" if text else step
    return text


def _shown(value) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if value is None:
        return "none"
    return str(value)


def describe(kind: str, name: str | None, change: dict) -> Say:
    """One change in words, like the API log's explanations:
    ``level 2 of policy checkout: escalate after 10 min, was 5``."""
    path, subject = change["path"], Say("%(kind)s %(name)s", kind=Say(kind), name=name or "")
    if change.get("secret"):
        return Say("%(subject)s: %(what)s changed (secret, not kept)", subject=subject, what=path_text(path))
    old, new = change.get("old", _ABSENT), change.get("new", _ABSENT)
    if len(path) >= 2 and path[0] == "levels" and isinstance(path[1], int):
        subject = Say("level %(level)s of %(subject)s", level=path[1] + 1, subject=subject)
        rest = path[2:]
        if rest == ["escalate_after_minutes"] and old is not _ABSENT and new is not _ABSENT:
            return Say("%(subject)s: escalate after %(new)s min, was %(old)s", subject=subject, new=new, old=old)
        path = rest
    what = path_text(path)
    if old is _ABSENT:
        return Say("%(subject)s: %(what)s added: %(new)s", subject=subject, what=what, new=_shown(new)) \
            if what else Say("%(subject)s added", subject=subject)
    if new is _ABSENT:
        return Say("%(subject)s: %(what)s removed, was %(old)s", subject=subject, what=what, old=_shown(old)) \
            if what else Say("%(subject)s removed", subject=subject)
    if not what:
        return Say("%(subject)s: %(new)s, was %(old)s", subject=subject, new=_shown(new), old=_shown(old))
    return Say("%(subject)s: %(what)s %(new)s, was %(old)s", subject=subject, what=what,
               new=_shown(new), old=_shown(old))


def describe_all(kind: str, name: str | None, changes: list[dict] | None) -> Joined:
    return Joined([describe(kind, name, c) for c in changes or []])


# Subject kinds, worded by describe (pybabel finds them as Say's message ids).
KINDS = (Say("policy"), Say("service"), Say("maintenance"), Say("service paging"), Say("user"), Say("token"),
         Say("schedule"), Say("incident"), Say("incident review"), Say("pay rate"), Say("priority"))

# ---- the hash chain ----

HASHED = ("id", "at", "actor_kind", "actor_id", "actor_name", "address", "subject_kind", "subject_id",
          "subject_name", "action", "changes", "reverts")


def canonical(fields: dict) -> bytes:
    """The entry's hashed fields as one canonical JSON text (sorted keys, no spaces)."""
    return json.dumps({k: fields.get(k) for k in HASHED}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, default=str).encode()


def entry_hash(fields: dict, previous: str) -> str:
    """sha256 over the previous entry's hash and this entry's canonical fields."""
    return hashlib.sha256(previous.encode() + b"\n" + canonical(fields)).hexdigest()


GENESIS = "0" * 64


@dataclass(frozen=True)
class Fault:
    entry_id: int
    kind: str  # gap | edited | head
    detail: str


def verify(rows, anchor: tuple[int, str] | None, head: tuple[int, str] | None) -> tuple[int, list[Fault]]:
    """Check entries read in id order (dicts of the hashed fields plus ``previous_hash`` and
    ``hash``). ``anchor``: (first kept id, its previous hash) after pruning, else None (the
    chain starts at id 1 from GENESIS); ``head``: (last id, last hash) as recorded."""
    faults: list[Fault] = []
    expected_id, previous = anchor if anchor else (1, GENESIS)
    count = 0
    for row in rows:
        count += 1
        if row["id"] != expected_id:
            faults.append(Fault(row["id"], "gap", f"entries {expected_id}-{row['id'] - 1} are missing"))
        if row["previous_hash"] != previous:
            faults.append(Fault(row["id"], "gap", "does not link to the entry before it"))
        if entry_hash(row, row["previous_hash"]) != row["hash"]:
            faults.append(Fault(row["id"], "edited", "its hash does not match its fields"))
        expected_id, previous = row["id"] + 1, row["hash"]
    if head is not None and (head[0] != expected_id - 1 or head[1] != previous):
        faults.append(Fault(head[0], "gap", f"the log ends at {expected_id - 1} but the last entry written was "
                                            f"{head[0]}"))
    return count, faults
