"""The incident object (S36), built in one place for every consumer: the JSON API and the
service webhooks' events (a snapshot at the event) read the same function, so they cannot drift."""

from __future__ import annotations

from .. import clock
from ..store.hotpath import Sql, to_datetime

FIELDS = ("id", "service", "title", "description", "status", "urgency", "priority", "mapping_value", "duplicate_count",
          "created_at", "acknowledged_at", "resolved_at")
# Carried only by an incident of a shadow run (issue 18), as ``"shadow": true``: S36's shape
# stays as it was for every other incident.
SHADOW = "shadow"

# The row :func:`incident_object` reads, in its order.
INCIDENT_SNAPSHOT = Sql("""
    SELECT i.id, s.name, i.title, coalesce(i.description, p.text, ''), i.status, i.urgency, i.mapping_value,
        i.duplicate_count, i.created_at, i.acknowledged_at, i.resolved_at, i.shadow, i.priority
    FROM incidents i JOIN services s ON s.id = i.service_id LEFT JOIN payloads p ON p.digest = i.payload_digest
    WHERE i.id = :id
""")


def incident_object(row) -> dict:
    """The S36 object from a row in :data:`INCIDENT_SNAPSHOT`'s order (the description is the
    whole payload where the rule set none, S22)."""
    (iid, service, title, description, status, urgency, mapping_value, duplicates, created, acknowledged,
     resolved, shadow, priority) = row
    found = {"id": iid, "service": {"name": service}, "title": title, "description": description or "",
             "status": status, "urgency": urgency, "priority": priority, "mapping_value": mapping_value,
             "duplicate_count": duplicates,
             "created_at": clock.iso(to_datetime(created)), "acknowledged_at": clock.iso(to_datetime(acknowledged)),
             "resolved_at": clock.iso(to_datetime(resolved))}
    if shadow:
        found[SHADOW] = True
    return found


def of_model(incident, service_name: str) -> dict:
    """The S36 object of a loaded ``Incident``."""
    return incident_object((incident.id, service_name, incident.title, incident.full_description, incident.status,
                            incident.urgency, incident.mapping_value, incident.duplicate_count, incident.created_at,
                            incident.acknowledged_at, incident.resolved_at, incident.shadow,
                            incident.priority))
