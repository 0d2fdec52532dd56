"""The web layer: blueprints, forms and presenters. Each view makes one service call.

Imports run one way: ``web`` -> ``services`` -> ``store`` and ``engine``; nothing below
imports from here.
"""

from __future__ import annotations


def register(app) -> None:
    """Register the blueprints, converters, error handlers and template helpers on ``app``."""
    from datetime import timedelta

    from ..engine.lifecycle import SNOOZE_CHOICES
    from ..engine.paging import EVENTS, RATE_LIMITED
    from ..extensions import csrf, db, login_manager
    from . import (
        access,
        api,
        apilog,
        audit,
        auth,
        dashboard,
        drills,
        errors,
        factors,
        health,
        i18n,
        imports,
        ingest,
        integrations,
        invitations,
        lean,
        openapi,
        opsgenie,
        outside,
        pagerduty,
        paging,
        priorities,
        reports,
        reviews,
        schedules,
        second_factor,
        services,
        shadow,
        sso,
        testpayload,
        users,
        webpush,
    )
    from .params import DatabaseId
    from .presenters import (
        dbtime,
        filled,
        guide_html,
        intent_words,
        localinput,
        localtime,
        plural,
        shade,
    )

    app.url_map.converters["int"] = DatabaseId  # an id past what a database holds is a 404
    login_manager.login_view = "auth.login"
    csrf.exempt(ingest.bp)  # token-authenticated JSON; it never reads cookies
    csrf.exempt(api.bp)
    csrf.exempt(opsgenie.bp)  # GenieKey-authenticated JSON (issue 18)
    csrf.exempt(pagerduty.bp)  # the body's routing key is the credential (issue 18); no cookies
    # Twilio signs these; a channel's module verifies its callbacks; a signed action's token
    # is its own proof (a push app's button POSTs it without a session)
    for view in (outside.voice, outside.keypress, outside.sms, outside.status, outside.channel_callback, outside.slack_actions,
                 outside.telegram_webhook,
                 outside.link_act):
        csrf.exempt(view)
    app.before_request(sso.trusted_header)  # issue 19: a trusted proxy's user header (before the viewer rule)
    from ..services.audit import resolve_with

    resolve_with(access.web_actor)  # issue 19: who acts, for the audit log
    app.before_request(access.refuse_viewers)  # issue 19: a viewer changes nothing (access.py)
    app.before_request(access.require_enrolment)  # issue 19: REQUIRE_SECOND_FACTOR
    for module in (ingest, api, pagerduty, auth, dashboard, apilog, testpayload, users, services, paging, schedules,
                   outside, openapi, health, integrations, drills, webpush, shadow, imports, opsgenie, invitations,
                   sso, second_factor, factors, audit, reviews, reports, priorities):
        app.register_blueprint(module.bp)
    app.jinja_env.globals["plural"] = plural
    app.jinja_env.globals["current_language"] = i18n.current_language
    app.jinja_env.globals["text_direction"] = i18n.direction
    app.jinja_env.globals["has_voice"] = i18n.has_voice
    app.jinja_env.globals["word"] = i18n.word
    from ..services.drills import SERVICE_NAME
    app.jinja_env.globals["drill_service"] = SERVICE_NAME  # a drill's incident: its title in the reader's words
    app.jinja_env.globals["say"] = i18n.say
    app.jinja_env.globals["health_problems"] = health.problems  # the admins' banner (base.html)
    app.jinja_env.globals["note_words"] = i18n.note_words
    app.jinja_env.globals["answer_words"] = i18n.answer_words
    app.jinja_env.globals["viewer_zone"] = i18n.viewer_zone
    app.jinja_env.globals["link_problem"] = i18n.link_problem
    app.jinja_env.globals["snooze_choices"] = SNOOZE_CHOICES  # the incident page's snooze form
    app.jinja_env.globals["snooze_words"] = i18n.snooze_words
    app.jinja_env.globals["timedelta"] = timedelta
    app.jinja_env.globals["webhook_events"] = EVENTS  # the service webhook form's choices
    app.jinja_env.globals["RATE_LIMITED"] = RATE_LIMITED  # a page's reason to wait (services.outbox)
    app.jinja_env.filters.update(localtime=localtime, dbtime=dbtime, shade=shade, localinput=localinput,
                                 filled=filled, guide_html=guide_html, number=i18n.number, wall=i18n.wall, words_list=i18n.words_list, intent_words=intent_words, ago=i18n.ago, word=i18n.word,
                                 strong=i18n.strong, em=i18n.em, say=i18n.say, guide_words=i18n.guide_words,
                                 code=i18n.code, link=i18n.link, here=i18n.here, channel=i18n.channel_noun,
                                 channel_label=i18n.channel_label)
    errors.register_error_handlers(app)
    app.after_request(errors.security_headers)
    # Issue 22: ingestion POSTs answered before Flask's request machinery (web/lean.py)
    app.extensions["callgoose_lean"] = lean.Lean(app, app.wsgi_app)
    app.wsgi_app = app.extensions["callgoose_lean"]

    @app.teardown_request
    def _end_session(_exc):
        # A request is one unit of work: its session (and any read snapshot) ends with it,
        # even where the app context lives on (pytest-flask keeps one per test).
        db.session.remove()
