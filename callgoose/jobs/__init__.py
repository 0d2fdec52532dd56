"""Periodic work, each job a function of ``now`` run by the worker (tests call them directly).

A job is ``run(engine, config, now, keep_alive)``; a long job calls ``keep_alive()`` now and then.
A job named in ``APP_JOBS`` also gets ``app=``: it acts through the services, in an application
context of its own.

``JOBS`` maps a job's name to its function and its interval; the interval's timer is a row
(``job_timers``), so a restarted or new leader continues where the last one stopped. An
interval of 0 runs the job on every tick: its due work is in its own rows (the escalation
timers, the outbox's ``due_at``).
"""

from __future__ import annotations

from . import deliver, drills, escalate, heartbeats, notices, ping, receipts, retention, snooze, targets, telegram

JOBS = {
    "heartbeats": (heartbeats.run, 0),  # a heartbeat that missed its calls opens an incident (paged below)
    "snooze": (snooze.run, 0),  # snoozed incidents whose time is up: triggered again (paged below)
    "targets": (targets.run, 15),  # response targets missed (issue 20): a note, the next level or the policy again
    "escalate": (escalate.run, 0),  # levels whose escalate_after_minutes has passed
    "deliver": (deliver.run, 0),  # the outbox: claim, send, record
    "handoffs": (notices.handoffs, 60),  # "you are on call in ... from now"
    "gaps": (notices.gaps, 86400),  # "nobody is on call in ... tomorrow", a day ahead
    "readiness": (notices.readiness, 300),  # the stored readiness report the front page shows
    "drills": (drills.run, 15),  # fire drills: start the due ones, end the acknowledged or timed out
    "receipts": (receipts.run, 60),  # Pushover emergencies expired unacknowledged: the person moves on
    "retention": (retention.run, 3600),  # old calls, their payloads, expired replay markers
    "telegram": (telegram.run, 0),  # TELEGRAM_UPDATES=poll: keeps the long poll's thread going
    "ping": (ping.run, 0),  # last: HEALTH_PING_URL while paging works (its own timer: a setting)
}
# What a wake runs at once (worker.Worker.hurry): a page was queued, an escalation is due now,
# or a sender came free; the rest waits for the next tick.
HURRIED = ("escalate", "deliver")
APP_JOBS = ("telegram",)  # they get the worker's app (jobs/telegram.py acts on button presses)
# The worker keeps timer rows for periodic jobs only: every-tick jobs record their last run
# and error themselves, so /healthz shows them too.
JOBS.update({name: (ping.recorded(name, job), 0) for name, (job, interval) in JOBS.items()
             if interval == 0 and name != ping.NAME})
