"""A user's notification rules: which of their contact methods is paged, how many minutes in,
for which urgencies. Each public function is one transaction."""

from __future__ import annotations

from sqlalchemy import func, select

from ..engine.oncall import MAX_RULES, check_minutes, check_urgencies
from ..engine.rules import SpecError
from ..engine.words import Plural, Say
from ..extensions import db
from ..store.models import NotificationRule
from ..store.transactions import write
from . import audit
from .contact_methods import owned_method


def add_rule(user_id: int, method_id: int, after_minutes, urgencies) -> NotificationRule:
    """:raises SpecError:"""
    after = check_minutes(after_minutes, "after_minutes")
    chosen = check_urgencies(list(urgencies), "urgency")

    def work():
        if owned_method(user_id, method_id) is None:
            raise SpecError("contact_method", Say("choose one of your contact methods"))
        count = db.session.execute(select(func.count(NotificationRule.id)).where(
            NotificationRule.user_id == user_id)).scalar_one()
        if count >= MAX_RULES:
            raise SpecError("after_minutes", Plural("a user has at most %(num)s rule", "a user has at most %(num)s rules", MAX_RULES, num=MAX_RULES))
        rule = NotificationRule(user_id=user_id, contact_method_id=method_id, after_minutes=after,
                                urgencies=",".join(chosen))
        db.session.add(rule)
        return rule
    return write(audit.tracking("user", user_id, work))


def delete_rule(user_id: int, rule_id: int) -> bool:
    def work():
        rule = db.session.execute(select(NotificationRule).where(NotificationRule.id == rule_id,
                                                                 NotificationRule.user_id == user_id)).scalar()
        if rule is None:
            return False
        db.session.delete(rule)
        return True
    return write(audit.tracking("user", user_id, work))
