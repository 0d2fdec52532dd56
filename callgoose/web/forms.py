"""Dashboard forms. Rules about what is valid live in the engine and services; these read input."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length

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
    name = StringField("Name", validators=[DataRequired(), Length(max=100)],
                       description="Where the token is used, e.g. alertmanager-prod.")
    service = SelectField("Scope", choices=[], validate_choice=True,
                          description="A service token reaches one service; a global token every enabled one.")


class CommentForm(Form):
    text = TextAreaField("Comment", validators=[DataRequired(), Length(max=5000)])


class TestPayloadForm(Form):
    token = SelectField("Token", choices=[], description="The call runs as this token: its scope decides the services.")
    content_type = SelectField("Content type", choices=[])
    source = StringField("From", validators=[Length(max=200)], description="The ?from= parameter; it goes into titles.")
    body = TextAreaField("Body", validators=[DataRequired(message="Paste a payload to test.")])
    dry_run = SubmitField("Dry run (changes nothing)")
    send = SubmitField("Send (recorded in the API log)")


class UserForm(Form):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    role = SelectField("Role", choices=[
        SelectChoice("responder", "Responder: acknowledges, resolves, comments"),
        SelectChoice("admin", "Admin: also manages tokens, services, rules and users")])
    password = PasswordField("Password", validators=[DataRequired(), Length(min=MIN_PASSWORD)],
                             description=f"At least {MIN_PASSWORD} characters; tell it to the person.")


class OwnPasswordForm(Form):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=MIN_PASSWORD)],
                             description=_l("At least %(count)d characters.", count=MIN_PASSWORD))
    confirm = PasswordField(_l("New password again"), validators=[EqualTo("password", _l("The passwords differ."))])


class PasswordForm(Form):
    password = PasswordField("New password", validators=[DataRequired(), Length(min=MIN_PASSWORD)])
