"""What one service does with a payload (S19-S27, S29), and the answer (S30, S31).

Pure: the caller reads the state (replay marker, maintenance windows) and hands it in,
with ``now`` as epoch seconds; the caller writes what the returned plan says.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

from .heartbeat import Heartbeat
from .matcher import ItemMatcher
from .paging import NO_PAGING, ServicePaging
from .payload import Payload, clean
from .priorities import DEFAULT_URGENCIES, rule_priority
from .rules import Failure, ResolveRule, TriggerRule, check_rule, item_matchers

TITLE_MAX = 255
NO_SUBJECT = "-"  # the subject key of "None" (S27); real keys are 64 hex digits


@dataclass(frozen=True)
class MaintenanceWindow:
    """A window in which a service skips requests (S29); times are epoch seconds."""

    starts_at: float | None = None
    ends_at: float | None = None
    tags: tuple[tuple[str, ...], ...] = ()

    def active_at(self, now: float) -> bool:
        """The window is on from ``starts_at`` (inclusive) to ``ends_at`` (exclusive)."""
        return ((self.starts_at is None or self.starts_at <= now)
                and (self.ends_at is None or now < self.ends_at))

    def covers(self, payload: Payload, now: float, tag_matcher: ItemMatcher) -> bool:
        """Whether the window skips this request: on now, and no tags or some tag set all present.

        ``tag_matcher`` holds the folded tags (of the service's windows): one pass finds them all.
        """
        if not self.active_at(now):
            return False
        if not self.tags:
            return True
        found = payload.present("", tag_matcher)
        return any(all(tag.casefold() in found for tag in tag_set) for tag_set in self.tags)


@dataclass(frozen=True)
class ServiceSpec:
    """One service's configuration as the engine sees it."""

    name: str
    trigger: tuple[TriggerRule, ...] = ()
    resolve: tuple[ResolveRule, ...] = ()
    enabled: bool = True
    duplicate_window_seconds: int | None = None  # None: the deployment's default
    maintenance: tuple[MaintenanceWindow, ...] = ()
    split_on: str | None = None  # S38: evaluate each element of this array as its own payload
    heartbeats: tuple[Heartbeat, ...] = ()  # issue 10: calls it expects every N minutes
    shadow: bool = False  # issue 18: a shadow run: its incidents open as usual, and page nobody
    service_id: int | None = field(default=None, compare=False)
    # Who a new incident pages (its policy and webhooks), part of the cached spec: a service
    # that pages nobody costs the hot path nothing, and the policy is parsed once per spec.
    paging: ServicePaging = field(default=NO_PAGING, compare=False)
    # Each priority's urgency as configured (issue 20), so a rule's priority sets its urgency
    # without a query per call; a change of priorities bumps every service's version.
    urgencies: dict = field(default_factory=lambda: dict(DEFAULT_URGENCIES), compare=False)

    @cached_property
    def matchers(self) -> dict:
        """Every condition item of the service, one matcher per json key (built once per spec)."""
        return item_matchers(self.trigger + self.resolve + self.heartbeats)

    @cached_property
    def tag_matcher(self) -> ItemMatcher:
        """Every maintenance tag of the service, folded, for one pass over the payload."""
        tags = {tag.casefold(): None for window in self.maintenance for tag_set in window.tags for tag in tag_set}
        return ItemMatcher(tuple(tags))


@dataclass(frozen=True)
class TriggerHit:
    """The trigger rule that held (the first, S19) and the incident it asks for (S20-S23)."""

    rule: int
    rule_id: int | None
    urgency: str
    title: str
    description: str
    mapping_value: str | None
    priority: str | None = None  # issue 20: P1-P5


@dataclass(frozen=True)
class ResolveHit:
    """A resolve rule that held and the mapping value it resolves (S24)."""

    rule: int
    rule_id: int | None
    value: str


@dataclass(frozen=True)
class Evaluation:
    """Which rules held for one service, and why the others did not."""

    trigger: TriggerHit | None = None
    resolves: tuple[ResolveHit, ...] = ()
    misses: tuple[tuple[str, int, Failure], ...] = ()

    @property
    def held(self) -> bool:
        return self.trigger is not None or bool(self.resolves)

    @property
    def subject(self) -> str | None:
        """The S27 subject key, or None when no rule held (nothing is remembered)."""
        if self.trigger is not None:
            return mapping_key(self.trigger.mapping_value)
        if self.resolves:
            return mapping_key(self.resolves[0].value)
        return None


def mapping_key(value: str | None) -> str:
    """A fixed-size key for a mapping value, so any length can be indexed."""
    if value is None:
        return NO_SUBJECT
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _present(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def one_line(text: str) -> str:
    """Fold every run of white space, line breaks included (``\\r``, ``\\n``, ``\\v``, ``\\f``,
    U+0085, U+2028, ...: whatever ``str.splitlines`` splits on), to one space, and trim: what
    becomes a title or a mail header is one line (S21)."""
    return " ".join(text.split())


def make_title(value: str | None, source: str | None) -> str:
    """Build an incident title (S21): one line, at most :data:`TITLE_MAX` characters."""
    value = _present(value)
    source = _present(source)
    if value is not None:
        title = f"{source} - {value}" if source else value
    else:
        title = f"Incident from {source}" if source else "Incident from unknown source"
    return shorten(one_line(title), TITLE_MAX)


def shorten(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters, at a word where one ends late enough, with "…"."""
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


def _trigger_hit(index: int, rule: TriggerRule, payload: Payload, source: str | None,
                 urgencies: dict = DEFAULT_URGENCIES) -> TriggerHit:
    title_value = payload.value(rule.title_from) if rule.title_from is not None else None
    description = payload.value(rule.description_from) if rule.description_from is not None else None
    if description is None or not description.strip():
        description = payload.text  # S22
    mapping = payload.value(rule.map_incident_with) if rule.map_incident_with is not None else None
    key_value = payload.value(rule.priority_from) if rule.priority_from is not None else None
    priority, urgency = rule_priority(rule.priority, key_value, rule.priority_map, rule.urgency, urgencies)
    return TriggerHit(rule=index, rule_id=rule.rule_id, urgency=urgency,
                      title=make_title(title_value, source), description=description,
                      mapping_value=_present(mapping), priority=priority)


def evaluate(spec: ServiceSpec, payload: Payload, source: str | None = None) -> Evaluation:
    """Find the first trigger rule that holds and every resolve rule that holds (S19, S24)."""
    source = clean(source) if source else None
    matchers = spec.matchers
    misses = []
    resolves = []
    for index, rule in enumerate(spec.resolve):
        failure = check_rule(rule.conditions, payload, matchers)
        if failure is None:
            value = _present(payload.value(rule.incident_mapped_with))
            if value is None:
                failure = Failure(-1, rule.incident_mapped_with, "mapping key absent or empty")
            else:
                resolves.append(ResolveHit(index, rule.rule_id, value))
                continue
        misses.append(("resolve", index, failure))
    trigger = None
    for index, rule in enumerate(spec.trigger):
        failure = check_rule(rule.conditions, payload, matchers)
        if failure is None:
            trigger = _trigger_hit(index, rule, payload, source, spec.urgencies)
            break
        misses.append(("trigger", index, failure))
    return Evaluation(trigger=trigger, resolves=tuple(resolves), misses=tuple(misses))


def in_maintenance(spec: ServiceSpec, payload: Payload, now: float) -> bool:
    """Tell whether some maintenance window of the service covers this request (S29)."""
    return any(window.covers(payload, now, spec.tag_matcher) for window in spec.maintenance)


@dataclass(frozen=True)
class Marker:
    """What a service remembers for one subject (S27)."""

    payload_hash: str
    seen_at: float


def is_replay(marker: Marker | None, payload_hash: str, now: float, window: float) -> bool:
    """A replay is the same payload for the same subject less than ``window`` seconds later."""
    return marker is not None and marker.payload_hash == payload_hash and now - marker.seen_at < window


def resolve_values(evaluation: Evaluation) -> list[str]:
    """The distinct mapping values to resolve, in rule order (S24: every rule that held)."""
    return list(dict.fromkeys(hit.value for hit in evaluation.resolves))


@dataclass
class Flags:
    """The response flags of a call, ORed over its services (S5, S30)."""

    created: bool = False
    resolved: bool = False
    trigger_duplicate: bool = False
    resolve_duplicate: bool = False

    def merge(self, other: "Flags") -> None:
        self.created |= other.created
        self.resolved |= other.resolved
        self.trigger_duplicate |= other.trigger_duplicate
        self.resolve_duplicate |= other.resolve_duplicate

    @property
    def status(self) -> int:
        """The one place a call's outcome becomes a status code (S31)."""
        if self.created:
            return 201
        if self.resolved:
            return 200
        if self.trigger_duplicate or self.resolve_duplicate:
            return 208
        return 202

    def body(self, call_id: str) -> dict:
        """The response body of a processed call (S30)."""
        return {"id": call_id,
                "resolved": {"duplicate": self.resolve_duplicate, "resolved": self.resolved},
                "triggered": {"duplicate": self.trigger_duplicate, "created": self.created}}
