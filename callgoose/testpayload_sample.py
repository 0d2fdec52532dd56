"""The sample payload the test form and the API Token tab start from (Alertmanager-shaped)."""

import json

SAMPLE = json.dumps({
    "version": "4", "status": "firing", "receiver": "callgoose", "groupKey": "{}:{alertname=\"HighCPU\"}",
    "commonLabels": {"alertname": "HighCPU", "instance": "db1:9100", "severity": "critical"},
    "commonAnnotations": {"summary": "CPU above 90% on db1", "description": "5m load average is 12.3"},
    "alerts": [{"status": "firing", "labels": {"alertname": "HighCPU", "instance": "db1:9100"},
                "startsAt": "2026-11-26T10:00:00Z", "generatorURL": "http://prometheus.local/graph"}],
}, indent=2)
