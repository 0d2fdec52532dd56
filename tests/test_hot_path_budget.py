"""Issue 22, item 5: the hot path's statements and commits per call may not grow.

Each scenario runs through the real app (SQLite, then PostgreSQL) and is counted by
tests/sqlcount.py, the code bench/ingest.py prints its counts with. A count, not a time: it
does not depend on the machine. When a change makes a call cheaper, lower its number here in
the same commit, so that the gain is kept.
"""

import pytest
from sqlcount import SCENARIOS, count_calls

# Statements per call (BEGIN and COMMIT included) and commits per call, measured 2026-12-06;
# the same on SQLite and PostgreSQL. split is one Alertmanager POST of 50 alerts (50 incidents).
# One fewer each since the token and its services are read in one statement.
BUDGET = {
    "new": (10, 1),
    "replay": (7, 1),
    "duplicate": (9, 1),
    "no rule": (6, 1),
    "resolve": (13, 1),
    "split": (157, 1),
    "pagerduty": (10, 1),
}


def over_budget(counts) -> list[str]:
    """What grew, one line a scenario and count."""
    grown = []
    for name, (statements, commits) in BUDGET.items():
        count = counts[name]
        for what, budget, now in (("statements", statements, count.statements), ("commits", commits, count.commits)):
            if now > budget:
                grown.append(f"{name}: {what} per call grew from {budget} to {now:g}")
    return grown


def test_every_scenario_has_a_budget():
    assert set(BUDGET) == set(SCENARIOS)


def test_statements_and_commits_per_call_stay_within_the_budget(dbapp, database_url):
    counts = count_calls(dbapp)
    # The counter must see the commit of every call that answers 2xx (all of them here): a
    # counter that sees none (e.g. psycopg renamed what it hooks) would let anything pass.
    assert all(c.commits >= 1 for c in counts.values()), counts
    grown = over_budget(counts)
    assert not grown, ("The hot path grew (issue 22):\n  " + "\n  ".join(grown) +
                       "\nThe next feature has to pay for itself: find the statement or commit it added and "
                       "take it back out (or another one), rather than raising the number in BUDGET.")
