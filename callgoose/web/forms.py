"""Dashboard forms. Rules about what is valid live in the engine and services; these read input."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from ..services.users import MIN_PASSWORD


class Form(FlaskForm):
    """Every dashboard form: a NUL in any text field is an error next to that field.

    (PostgreSQL cannot store NUL; nobody types one on purpose.)
    """

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        for field in self:
            if isinstance(field.data, str) and "\x00" in field.data:
                field.errors = [*field.errors, _l("This must not contain NUL characters.")]
                valid = False
        return valid


class LoginForm(Form):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    remember = BooleanField(_l("Keep me signed in on this device"))


class SetupForm(Form):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(min=MIN_PASSWORD)])
    confirm = PasswordField(_l("Password again"), validators=[EqualTo("password", _l("The passwords differ."))])


class TokenForm(Form):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)],
                       description=_l("Where the token is used, e.g. alertmanager-prod."))
    service = SelectField(_l("Scope"), choices=[], validate_choice=True,
                          description=_l("A service token reaches one service; a global token every enabled one."))
    routing_key = BooleanField(_l("PagerDuty routing key"), description=_l(
        "32 characters, as PagerDuty's clients expect: for senders of PagerDuty's Events API v2 (/v2/enqueue) "
        "only. Needs a service."))
    # Issue 19: the token's scope (services/tokens.GRANTS); the template words each choice.
    kind = RadioField(_l("Kind"), default="ingest", validate_choice=True, choices=[
        SelectChoice("ingest", _l("Ingestion token")), SelectChoice("read", _l("Read-only API token")),
        SelectChoice("write", _l("Read-write API token"))])

    def validate_routing_key(self, field):
        if field.data and not self.service.data:
            raise ValidationError(_l("A routing key routes events to one service: choose it under Scope."))
        if field.data and self.kind.data != "ingest":
            raise ValidationError(_l("A routing key sends events: it is an ingestion token, not an API token."))


class CommentForm(Form):
    text = TextAreaField(_l("Comment"), validators=[DataRequired(), Length(max=5000)])


class TestPayloadForm(Form):
    token = SelectField(_l("Token"), choices=[],
                        description=_l("The call runs as this token: its scope decides the services."))
    content_type = SelectField(_l("Content type"), choices=[])
    source = StringField(_l("From"), validators=[Length(max=200)],
                         description=_l("The ?from= parameter; it goes into titles."))
    body = TextAreaField(_l("Body"), validators=[DataRequired(message=_l("Paste a payload to test."))])
    dry_run = SubmitField(_l("Dry run (changes nothing)"))
    send = SubmitField(_l("Send (recorded in the API log)"))


class UserForm(Form):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    role = SelectField(_l("Role"), choices=[
        SelectChoice("responder", _l("Responder: acknowledges, resolves, comments")),
        SelectChoice("admin", _l("Admin: also manages tokens, services, rules and users")),
        SelectChoice("viewer", _l("Viewer: sees incidents, schedules and who is on call; changes nothing"))])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(min=MIN_PASSWORD)],
                             description=lazy_ngettext("At least %(count)d character; tell it to the person.",
                                                       "At least %(count)d characters; tell it to the person.",
                                                       MIN_PASSWORD, count=MIN_PASSWORD))


class OwnPasswordForm(Form):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=MIN_PASSWORD)],
                             description=lazy_ngettext("At least %(count)d character.", "At least %(count)d characters.",
                                                       MIN_PASSWORD, count=MIN_PASSWORD))
    confirm = PasswordField(_l("New password again"), validators=[EqualTo("password", _l("The passwords differ."))])


class InviteForm(Form):
    """An admin invites someone by email (issue 19): they set their own password."""

    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    role = SelectField(_l("Role"), choices=[
        SelectChoice("responder", _l("Responder: acknowledges, resolves, comments")),
        SelectChoice("admin", _l("Admin: also manages tokens, services, rules and users")),
        SelectChoice("viewer", _l("Viewer: sees incidents, schedules and who is on call; changes nothing"))])


class ForgotForm(Form):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])


class NewPasswordForm(Form):
    """A signed link's form: a new password (and, for an invitation, more fields in the page)."""

    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=MIN_PASSWORD)],
                             description=lazy_ngettext("At least %(count)d character.", "At least %(count)d characters.",
                                                       MIN_PASSWORD, count=MIN_PASSWORD))
    confirm = PasswordField(_l("New password again"), validators=[EqualTo("password", _l("The passwords differ."))])


class PasswordForm(Form):
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=MIN_PASSWORD)])


class DrillForm(Form):
    """A fire drill: whom, and when (the engine checks the recurrence; services.drills the target)."""

    target = SelectField(_l("Who is drilled"), choices=[], validate_choice=False,
                         description=_l("A schedule: whoever is on call in it when the drill runs; or one person."))
    week = SelectField(_l("Which week of the month"), choices=[
        SelectChoice("1", _l("first")), SelectChoice("2", _l("second")), SelectChoice("3", _l("third")),
        SelectChoice("4", _l("fourth")), SelectChoice("last", _l("last")), SelectChoice("every", _l("every week"))])
    weekday = SelectField(_l("Day"), choices=[
        SelectChoice(str(i), name) for i, name in enumerate((_l("Monday"), _l("Tuesday"), _l("Wednesday"),
                                                             _l("Thursday"), _l("Friday"), _l("Saturday"),
                                                             _l("Sunday")))])
    time = StringField(_l("Time"), default="14:00", validators=[DataRequired(), Length(max=5)],
                       description=_l("Local time, HH:MM."))
    time_zone = StringField(_l("Time zone"), validators=[DataRequired(), Length(max=64)],
                            description=_l("An IANA name, e.g. Europe/Berlin."))
