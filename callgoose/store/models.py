"""Tables. Column definitions and indexes only: the rules live in the engine and the services.

Times are naive UTC datetimes (see :mod:`callgoose.clock`). Columns that point at an API
call (``created_by_call``, ``api_call_id``) carry no foreign key on purpose: retention
deletes old calls (S33) and never touches incidents. It deletes the timeline entries a
call made together with the call; what they said stays on the incident row
(``created_at``, ``resolved_at``), so the timeline still shows it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, text
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..engine.lifecycle import ACTIVE_SQL
from ..engine.outcome import ServiceOutcome, load_all, reason
from ..extensions import db


class User(db.Model):
    """A dashboard user; it answers what Flask-Login asks of a user (the web layer's business,
    without this module importing it)."""

    __tablename__ = "users"
    is_authenticated = True
    is_anonymous = False

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="responder", server_default="responder")  # engine ROLES
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    name: Mapped[str | None] = mapped_column(String(100))  # shown in policies and messages; None: the email
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    language: Mapped[str | None] = mapped_column(String(8))  # the dashboard's; None: the browser's
    # A notice when one of their shifts starts (issue 9); they may turn it off.
    handoff_notices: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    failed_logins: Mapped[int] = mapped_column(default=0)  # wrong passwords in a row
    locked_until: Mapped[datetime | None]  # sign-in refused until then (too many failures)
    invited_at: Mapped[datetime | None]  # the last invitation mailed (issue 19); None: never
    # "<issuer> <sub>" at the OpenID provider, kept at the first single sign-on (issue 19, migration 0029)
    sso_subject: Mapped[str | None] = mapped_column(String(600), unique=True)
    # Second factors (issue 19): the TOTP secret (base32; None: no authenticator app) and the
    # last 30-second step a code was accepted for (a code of that step or before is a replay).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)

    # The secret of the session this object was loaded for (not a column): part of the id
    # Flask-Login keeps in the session and remember-me cookies, so ending the session row ends both.
    session_secret = None  # str, set by the user loader

    @hybrid_property
    def is_admin(self) -> bool:
        """Read-only: the role says it (also usable in queries: ``where(User.is_admin)``)."""
        return self.role == "admin"

    @property
    def may_act(self) -> bool:
        """May act on incidents and schedules: anyone but a viewer (issue 19)."""
        return self.role != "viewer"

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_secret}"


class UserSession(db.Model):
    """A signed-in browser: created at sign-in, deleted at logout, a password change or deactivation."""

    __tablename__ = "user_sessions"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the secret in the cookie
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]


class RecoveryCode(db.Model):
    """A single-use recovery code of a user with an authenticator app: only its digest; used, it is deleted."""

    __tablename__ = "recovery_codes"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the normalised code
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


class Passkey(db.Model):
    """A WebAuthn credential (passkey) of a user: a second factor, or a sign-in on its own."""

    __tablename__ = "passkeys"
    __table_args__ = (Index("uq_passkeys_credential_id", "credential_id", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[str] = mapped_column(String(1400))  # base64url, as browsers send it; unique
    public_key: Mapped[bytes]  # COSE
    sign_count: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]


LIVE_SERVICE_SQL = "deleted_at IS NULL"


class Service(db.Model):
    __tablename__ = "services"
    __table_args__ = (
        # A deleted service keeps its row (its incidents' history reads its name) and frees the name.
        Index("uq_services_live_name", "name", unique=True,
              sqlite_where=text(LIVE_SERVICE_SQL), postgresql_where=text(LIVE_SERVICE_SQL)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(default=True)
    duplicate_window_seconds: Mapped[int | None]
    # Bumped on every change of rules, state or maintenance: processes cache compiled
    # rules by (id, version), so a change made by any process is seen by all of them.
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]
    # S38: the json key of an array whose elements are each evaluated as a payload of their own
    # (Alertmanager's and Grafana's "alerts"); None: the payload is evaluated whole.
    split_on: Mapped[str | None] = mapped_column(String(200))
    # Who is paged for its incidents (pinned on each incident when it opens); None: nobody.
    escalation_policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("escalation_policies.id", ondelete="SET NULL", name="fk_services_escalation_policy_id_escalation_policies"))
    # A shadow run (issue 18): its incidents open as usual and page nobody (pinned on each).
    shadow: Mapped[bool] = mapped_column(default=False, server_default=text("false"))

    @classmethod
    def live(cls):
        """The condition for services that are not deleted."""
        return cls.deleted_at.is_(None)


class Rule(db.Model):
    __tablename__ = "rules"
    __table_args__ = (Index("ix_rules_service", "service_id", "kind", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))  # trigger | resolve
    position: Mapped[int]
    urgency: Mapped[str] = mapped_column(String(8), default="high")
    conditions: Mapped[list] = mapped_column(JSON)
    title_from: Mapped[str | None] = mapped_column(Text)
    description_from: Mapped[str | None] = mapped_column(Text)
    map_key: Mapped[str | None] = mapped_column(Text)  # map_incident_with / incident_mapped_with
    # issue 20: a trigger rule's fixed priority, or the key and map it reads one from
    priority: Mapped[str | None] = mapped_column(String(2))
    priority_from: Mapped[str | None] = mapped_column(Text)
    priority_map: Mapped[dict | None] = mapped_column(JSON)
    changed_at: Mapped[datetime | None]  # saved (lint: "held for no call in 7 days" needs 7 days of it)


class Maintenance(db.Model):
    __tablename__ = "maintenance_windows"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    tags: Mapped[list] = mapped_column(JSON, default=list)
    origin: Mapped[str] = mapped_column(String(16))  # config | api | dashboard
    created_at: Mapped[datetime]


class ApiToken(db.Model):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    digest: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the token
    prefix: Mapped[str] = mapped_column(String(16))  # shown so people can tell tokens apart
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # Email intake (issue 10): mail to <intake_id>@CALLGOOSE_SMTP_INTAKE_DOMAIN is a call with
    # this token. Random, not derived from the token; a rotated token gets a new one.
    intake_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    # token | routing_key: a PagerDuty-style routing key (issue 18) is a service token in the
    # 32-character form PagerDuty's clients expect, accepted only as an event's routing_key
    # (its digest is taken over "pagerduty:" + key, so no Bearer lookup ever finds it).
    kind: Mapped[str] = mapped_column(String(16), default="token", server_default="token")
    # ingest | read | write (issue 19): what the token may do, decided by services/tokens.GRANTS.
    # Every token made before scopes is an ingestion token, which reaches the JSON API as well.
    scope: Mapped[str] = mapped_column(String(16), default="ingest", server_default="ingest")


class ChangeEvent(db.Model):
    """A change on a service (issue 18: PagerDuty's change events): a deploy, a merged pull
    request. It pages nobody; an incident shows its service's changes just before it opened.
    Retention deletes them with the API calls of their age."""

    __tablename__ = "change_events"
    __table_args__ = (Index("ix_change_events_service_at", "service_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    received_at: Mapped[datetime] = mapped_column(index=True)
    at: Mapped[datetime]  # when it happened: its timestamp, never after received_at
    summary: Mapped[str] = mapped_column(String(1024))
    source: Mapped[str | None] = mapped_column(String(255))
    links: Mapped[list | None] = mapped_column(JSON)  # [[href, text]], http(s) only
    details: Mapped[str | None] = mapped_column(Text)  # custom_details as people read it, cut
    token_name: Mapped[str] = mapped_column(String(100))


class StoredPayload(db.Model):
    """Each distinct payload text once, by its SHA-256 (S27's digest); calls and incidents point here."""

    __tablename__ = "payloads"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    text: Mapped[str] = mapped_column(Text)


class Incident(db.Model):
    __tablename__ = "incidents"
    __table_args__ = (
        # S28: at most one active incident per (service, mapping value), enforced here.
        Index("uq_incidents_active_mapping", "service_id", "mapping_key", unique=True,
              sqlite_where=text(ACTIVE_SQL), postgresql_where=text(ACTIVE_SQL)),
        Index("ix_incidents_status_created", "status", "created_at"),
        Index("ix_incidents_created", "created_at", "id"),  # the list of every incident, newest first
        Index("ix_incidents_service_status", "service_id", "status"),
        # the snooze job's due incidents; a new incident (NULL) adds nothing to it
        Index("ix_incidents_snoozed_until", "snoozed_until", sqlite_where=text("snoozed_until IS NOT NULL"),
              postgresql_where=text("snoozed_until IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)  # None: the whole payload (S22)
    payload_digest: Mapped[str | None] = mapped_column(
        ForeignKey("payloads.digest", name="fk_incidents_payload_digest_payloads"), index=True)
    urgency: Mapped[str] = mapped_column(String(8))
    priority: Mapped[str | None] = mapped_column(String(2))  # P1-P5 (issue 20); None: opened before them
    # when the priority's response targets were found missed (services.targets), once each
    acknowledge_missed_at: Mapped[datetime | None]
    resolve_missed_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))  # engine.lifecycle.Status
    mapping_value: Mapped[str | None] = mapped_column(Text)
    mapping_key: Mapped[str | None] = mapped_column(String(64))  # sha256 of mapping_value
    duplicate_count: Mapped[int] = mapped_column(default=0)  # repeats (S26), counted, not in the timeline
    # what a page tells (engine.page.facts_of): the key labels and runbook link of the payload
    # the rules saw, read when it opened; for a split payload its element's, which the stored
    # payload (the whole call's) no longer says without reading all of it
    facts: Mapped[dict | None] = mapped_column(JSON)
    # Opened while its service (or the install) ran in shadow mode: for its whole life every
    # notification it causes is held when due, never sent (issue 18).
    shadow: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    first_repeat_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1, server_default="1")  # +1 on every change (the page polls it)
    rule_id: Mapped[int | None]
    created_by_call: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    # acknowledged and quiet until then; the snooze job makes it triggered again (issue 20, item 3)
    snoozed_until: Mapped[datetime | None]
    stored_payload: Mapped[StoredPayload | None] = relationship(lazy="select")

    @property
    def payload(self) -> str:
        return self.stored_payload.text if self.stored_payload is not None else ""

    @property
    def full_description(self) -> str:
        return self.description if self.description is not None else self.payload


class PriorityRow(db.Model):
    """A priority as an admin changed it (issue 20); one without a row has its defaults
    (engine.priorities.DEFAULTS)."""

    __tablename__ = "priorities"

    priority: Mapped[str] = mapped_column(String(2), primary_key=True)
    label: Mapped[str] = mapped_column(String(40))
    colour: Mapped[str] = mapped_column(String(7))
    description: Mapped[str] = mapped_column(String(500), default="")
    urgency: Mapped[str] = mapped_column(String(8))
    acknowledge_minutes: Mapped[int | None]
    resolve_minutes: Mapped[int | None]
    on_missed_target: Mapped[str] = mapped_column(String(16), default="nothing")


class IncidentEvent(db.Model):
    """The timeline: created, acknowledged, unacknowledged, resolved, comment (engine.lifecycle)."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(16))
    api_call_id: Mapped[str | None] = mapped_column(String(36))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str | None] = mapped_column(String(254))  # user email or token name, as it was
    note: Mapped[str | None] = mapped_column(Text)  # English: the API's, exports' and logs'
    note_words: Mapped[str | None] = mapped_column(Text)  # engine.notes: its message id and values


class ApiCall(db.Model):
    """One authenticated request to the endpoint and what came of it (S33)."""

    __tablename__ = "api_calls"
    __table_args__ = (
        # The API log's filters, newest first, without reading every call of a big log.
        Index("ix_api_calls_status_received", "status", "received_at"),
        Index("ix_api_calls_token_received", "token_id", "received_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id", ondelete="SET NULL"))
    token_name: Mapped[str] = mapped_column(String(100))
    source: Mapped[str | None] = mapped_column(Text)  # the ``from`` parameter
    content_type: Mapped[str | None] = mapped_column(Text)
    size: Mapped[int]
    payload_digest: Mapped[str | None] = mapped_column(
        ForeignKey("payloads.digest", name="fk_api_calls_payload_digest_payloads"), index=True)
    status: Mapped[int]
    results: Mapped[list] = mapped_column(JSON)  # engine.outcome records, per service (see outcomes)
    services: Mapped[str] = mapped_column(Text, default=",")  # ",1,3,": as api_call_services, unindexed
    error: Mapped[str | None] = mapped_column(Text)
    replay_of: Mapped[str | None] = mapped_column(String(36))  # issue 10: the stored call an admin replayed
    stored_payload: Mapped[StoredPayload | None] = relationship(lazy="select")

    @property
    def payload(self) -> str:
        """The payload text (S9), kept once per distinct text; empty for an empty body."""
        return self.stored_payload.text if self.stored_payload is not None else ""

    @property
    def outcomes(self) -> list[ServiceOutcome]:
        """``results`` read back as typed records, whatever version wrote them."""
        return load_all(self.results)

    @property
    def reason(self) -> str | None:
        """Why a 202 did nothing or what a 208 duplicated, in the words of the call's answer."""
        return reason(self.outcomes, self.status)


class CallService(db.Model):
    """Which services a call ran on, by time: the API log's filter by service is a range of
    this primary key, however big the log (a text match on ``api_calls.services`` read every row)."""

    __tablename__ = "api_call_services"

    service_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    received_at: Mapped[datetime] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(36), primary_key=True)


class ReplayMarker(db.Model):
    """Per service and subject, the last payload processed and when (S27)."""

    __tablename__ = "replay_markers"

    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"),
                                            primary_key=True)
    subject_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    payload_hash: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime]
    # What the row held before the last call: the upsert that writes a marker returns
    # these, so reading and writing it is one statement (see pipeline.REMEMBER).
    previous_hash: Mapped[str | None] = mapped_column(String(64))
    previous_seen_at: Mapped[datetime | None]


class WorkerLease(db.Model):
    """Which process does the background work: the holder renews ``expires_at`` on each tick."""

    __tablename__ = "worker_leases"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]  # the leader's last tick


class JobTimer(db.Model):
    """When a periodic job runs next: timers are rows, so a restart loses none."""

    __tablename__ = "job_timers"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    next_run_at: Mapped[datetime]
    last_run_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class ChangeCounter(db.Model):
    """How many incident changes were committed, in a few shards (one hot row would serialise
    every writer on PostgreSQL): the live list polls their sum instead of counting incidents."""

    __tablename__ = "change_counters"

    shard: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class ContactMethod(db.Model):
    """Where a user can be reached: one of the channels (callgoose/channels/), at an address."""

    __tablename__ = "contact_methods"
    __table_args__ = (Index("uq_contact_methods_user_name", "user_id", "name", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))  # channels.NAMES
    address: Mapped[str] = mapped_column(Text)  # the channel's first field: an email address, a URL, a number
    format: Mapped[str | None] = mapped_column(String(8))  # webhooks: json | slack | teams
    options: Mapped[dict | None] = mapped_column(JSON)  # the channel's other fields (a token, a device)
    verified_at: Mapped[datetime | None]  # pages go only to verified methods
    verify_digest: Mapped[str | None] = mapped_column(String(64))  # sha256 of the code sent
    verify_expires_at: Mapped[datetime | None]
    verify_attempts: Mapped[int] = mapped_column(default=0, server_default="0")  # tries of the current code
    last_sent_at: Mapped[datetime | None]  # the last message that left (the rate limit)
    created_at: Mapped[datetime]
    user: Mapped[User] = relationship(lazy="joined")


class NotificationRule(db.Model):
    """A user's rule: this method, this many minutes after a level pages them, for these urgencies."""

    __tablename__ = "notification_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    contact_method_id: Mapped[int] = mapped_column(ForeignKey("contact_methods.id", ondelete="CASCADE"), index=True)
    after_minutes: Mapped[int] = mapped_column(default=0)
    urgencies: Mapped[str] = mapped_column(String(16), default="high,low")  # comma-separated
    method: Mapped[ContactMethod] = relationship(lazy="joined")


class EscalationPolicy(db.Model):
    """Ordered levels of targets; ``levels`` is engine.paging.Policy's JSON (by user id)."""

    __tablename__ = "escalation_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    repeat: Mapped[int] = mapped_column(default=0)
    levels: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ServiceWebhook(db.Model):
    """An outgoing webhook of a service: incident events, signed with its secret."""

    __tablename__ = "service_webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(200))
    events: Mapped[str] = mapped_column(String(200))  # comma-separated engine.paging.EVENTS
    format: Mapped[str] = mapped_column(String(8), default="json")
    created_at: Mapped[datetime]


class IncidentEscalation(db.Model):
    """An incident's escalation: the policy pinned when it opened, and its timer (a row, so a
    restart loses none)."""

    __tablename__ = "incident_escalations"
    __table_args__ = (Index("ix_incident_escalations_due", "state", "next_at"),)

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True,
                                             autoincrement=False)
    policy: Mapped[dict] = mapped_column(JSON)  # engine.paging.Policy.to_json()
    level: Mapped[int]  # the level notified last (-1: none yet)
    round: Mapped[int] = mapped_column(default=0)  # passes after the first (``repeat``)
    notified_at: Mapped[datetime | None]
    next_at: Mapped[datetime | None]  # when the next level is due
    state: Mapped[str] = mapped_column(String(12))  # engine.paging.EscalationState


class Notification(db.Model):
    """The outbox and the delivery ledger: one row per message to one person's method (or one
    service webhook), written in the transaction of the change that causes it."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_due", "status", "due_at"),
        Index("ix_notifications_incident", "incident_id", "id"),
        Index("ix_notifications_method", "contact_method_id", "status"),
        Index("ix_notifications_bundle", "bundle_of"),  # the rows one message carried
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(36), unique=True)  # the same on every retry
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    contact_method_id: Mapped[int | None] = mapped_column(ForeignKey("contact_methods.id", ondelete="SET NULL"))
    webhook_id: Mapped[int | None] = mapped_column(ForeignKey("service_webhooks.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(12))  # engine.paging.Kind
    event: Mapped[str | None] = mapped_column(String(32))  # service webhooks: incident.triggered, ...
    channel: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(Text)  # the address or URL, as it was when queued
    level: Mapped[int | None]
    body: Mapped[dict | None] = mapped_column(JSON)  # a snapshot: webhook events, tests, codes
    status: Mapped[str] = mapped_column(String(12))  # engine.paging.State
    queued_at: Mapped[datetime]
    due_at: Mapped[datetime]  # the next attempt
    attempts: Mapped[int] = mapped_column(default=0)
    deadline: Mapped[datetime | None]  # while sending: unknown after this
    sent_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    bundle_of: Mapped[int | None]  # the notification whose message carried this one
    provider_id: Mapped[str | None] = mapped_column(String(64))  # e.g. Twilio's SID
    # What the provider reported once it was sent (services.evidence): answered, delivered, or
    # why it was not (Twilio's no-answer, busy, failed, canceled, undelivered; Pushover's expired).
    answer: Mapped[str | None] = mapped_column(String(16))


class UsedLink(db.Model):
    """The nonce of every acknowledge or resolve link that has acted (each works once)."""

    __tablename__ = "used_links"

    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    used_at: Mapped[datetime]


class UsedCallback(db.Model):
    """The provider's id (Twilio's ``CallSid`` or ``MessageSid``) of every keypress or SMS
    reply that acted: a signed callback acts once, a replay changes nothing."""

    __tablename__ = "used_callbacks"

    provider_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    used_at: Mapped[datetime]


class SlackIdentity(db.Model):
    """A Slack account (a team's user id) linked to the Callgoose user who confirmed it while
    signed in: a Slack button that account presses acts as that user."""

    __tablename__ = "slack_identities"
    __table_args__ = (Index("uq_slack_identities_team_user", "team_id", "slack_user_id", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(64))
    slack_user_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))  # as Slack named the account when it was linked
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    linked_at: Mapped[datetime]


class RateLimit(db.Model):
    """A rate limit's state (engine.paging.Limit) for one key (``method:<id>``,
    ``person:<user id>``, ...): the next admission's theoretical time, in epoch milliseconds."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    tat: Mapped[int] = mapped_column(BigInteger)


class Schedule(db.Model):
    """An on-call schedule: a time zone and ordered layers (rotations), as JSON by user id:
    ``[{"name", "users": [id, ...], "start": "YYYY-MM-DDTHH:MM", "shift": {"unit", "count"},
    "restrictions": [{"days": ["mon", ...], "from": "HH:MM", "to": "HH:MM"}]}]``. Who is on call
    is computed from it (engine.schedules); no shift is stored."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    time_zone: Mapped[str] = mapped_column(String(64))
    layers: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ScheduleOverride(db.Model):
    """A user on call for a span, in place of whoever the layers give (spans never overlap)."""

    __tablename__ = "schedule_overrides"
    __table_args__ = (Index("ix_schedule_overrides_span", "schedule_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    created_at: Mapped[datetime]


class CalendarFeed(db.Model):
    """A secret iCal URL: a schedule's rota, or one user's shifts (``schedule_id`` empty)."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the secret in the URL
    prefix: Mapped[str] = mapped_column(String(12))  # shown so people can tell feeds apart
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)  # whose it is
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class ReadinessReport(db.Model):
    """The last readiness check (one row): what it found, when, and a digest of what it read,
    so the front page shows it without checking again until the schedules, policies, contact
    methods or services change, or it is ten minutes old (the worker renews it)."""

    __tablename__ = "readiness_reports"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # always 1
    inputs: Mapped[str] = mapped_column(String(64))
    computed_at: Mapped[datetime]
    findings: Mapped[list] = mapped_column(JSON)


class HeartbeatRow(db.Model):
    """A service's heartbeat (issue 10): its rule and timing as configured, and where it
    stands. ``due_at`` is the worker's timer: when to look next (None: not before a call)."""

    __tablename__ = "heartbeats"
    __table_args__ = (Index("uq_heartbeats_service_name", "service_id", "name", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    conditions: Mapped[list] = mapped_column(JSON)
    every_seconds: Mapped[int]
    grace_seconds: Mapped[int]
    paused: Mapped[bool] = mapped_column(default=False)
    state: Mapped[str] = mapped_column(String(8), default="new")  # engine.heartbeat.STATES
    last_ping_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]


class Drill(db.Model):
    """A fire drill (issue 17, item 6): on a recurrence, the person on call in a schedule (or
    one person) is paged through their own rules by a drill incident that pages nobody else.
    The recurrence is engine.drills.Recurrence: a weekday, which week of the month
    (``1``-``4``, ``last`` or ``every``), a local time and the zone it is read in."""

    __tablename__ = "drills"
    __table_args__ = (Index("ix_drills_due", "enabled", "next_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))  # one of the two
    weekday: Mapped[int]  # 0 = Monday
    week: Mapped[str] = mapped_column(String(8))  # 1 | 2 | 3 | 4 | last | every
    at_time: Mapped[str] = mapped_column(String(5))  # HH:MM, local
    time_zone: Mapped[str] = mapped_column(String(64))
    next_at: Mapped[datetime | None]  # the next run (None: disabled)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]


class DrillRun(db.Model):
    """One run of a drill: its incident (on the hidden drill service), when it must end, and
    its report (engine.drills.Report's JSON) once it ended."""

    __tablename__ = "drill_runs"
    __table_args__ = (Index("ix_drill_runs_drill", "drill_id", "started_at"),
                      Index("ix_drill_runs_open", "finished_at", "deadline_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    drill_id: Mapped[int] = mapped_column(ForeignKey("drills.id", ondelete="CASCADE"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"), index=True)
    started_at: Mapped[datetime]
    deadline_at: Mapped[datetime]  # resolved by itself then, unless acknowledged before
    finished_at: Mapped[datetime | None]
    report: Mapped[dict | None] = mapped_column(JSON)


class AuditEntry(db.Model):
    """One change of configuration or action on an incident (issue 19, item 5): who (an actor
    kind, and the user's or token's id and name, never a secret), when, from which address, on
    what, and the structural difference (engine.audit). Ids are given in order under the head's
    lock, so the chain has no holes; each entry's ``hash`` covers its fields and ``previous_hash``."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_subject", "subject_kind", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_kind: Mapped[str] = mapped_column(String(16))  # user | token | link | keypress | push | import | system | cli
    actor_id: Mapped[int | None]
    actor_name: Mapped[str | None] = mapped_column(String(254))
    address: Mapped[str | None] = mapped_column(String(64))
    subject_kind: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int | None]
    subject_name: Mapped[str | None] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(32))
    changes: Mapped[list | None] = mapped_column(JSON)
    reverts: Mapped[int | None]  # the entry this one reverts
    previous_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(db.Model):
    """The audit chain's one row: the last entry written (the lock writers take, and the end a
    deleted newest entry is missed against) and, after pruning, the first kept entry's anchor."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)  # always 1
    last_id: Mapped[int] = mapped_column(default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
    first_id: Mapped[int] = mapped_column(default=1)
    anchor_hash: Mapped[str] = mapped_column(String(64))  # the previous hash of entry first_id


class IncidentReview(db.Model):
    """What people wrote in an incident's review (issue 20, item 5): a summary, a root cause and
    follow-ups (engine.review.FollowUp as JSON), and who changed it last. The section Callgoose
    writes itself is not stored: it is read from the incident, its calls and the ledger."""

    __tablename__ = "incident_reviews"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    root_cause: Mapped[str] = mapped_column(Text, default="")
    follow_ups: Mapped[list] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_by: Mapped[str | None] = mapped_column(String(254))  # the email, as it was


class PayRate(db.Model):
    """An hourly rate for hours on call (issue 20): a person's (``schedule_id`` empty), a
    schedule's (``user_id`` empty), or a person's on one schedule; the most specific applies."""

    __tablename__ = "pay_rates"
    __table_args__ = (Index("uq_pay_rates_subject", "user_id", "schedule_id", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    rate: Mapped[float]
    holiday_rate: Mapped[float | None]  # None: the rate
    updated_at: Mapped[datetime]
