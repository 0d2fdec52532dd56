"""Signatures, without I/O: the mail's action links, outgoing webhooks, Twilio's and Slack's
callbacks, the link that ties a Slack account to a Callgoose user."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets

LINK_SECONDS = 24 * 3600
LINK_ACTIONS = ("acknowledge", "resolve")


class BadLink(ValueError):
    """A link that was altered, is not ours, or has expired (the message says which)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: str, message: bytes, purpose: str) -> bytes:
    return hmac.new(hashlib.sha256((purpose + ":" + key).encode()).digest(), message, hashlib.sha256).digest()


def make_link(key: str, incident_id: int, action: str, user_id: int | None, now: float) -> str:
    """A signed token for "acknowledge (or resolve) this incident": it names the person it was
    sent to, expires after 24 hours and carries a nonce so that it works once."""
    if action not in LINK_ACTIONS:
        raise ValueError(action)
    return _sealed(key, {"i": incident_id, "a": action, "u": user_id, "e": int(now) + LINK_SECONDS,
                         "n": secrets.token_hex(8)}, "link")


def read_link(key: str, token: str, now: float) -> dict:
    """The link's fields (``incident``, ``action``, ``user``, ``nonce``).

    :raises BadLink: the signature is wrong or the link has expired.
    """
    fields = _opened(key, token, "link", now)
    return {"incident": fields["i"], "action": fields["a"], "user": fields["u"], "nonce": fields["n"]}


def _sealed(key: str, fields: dict, purpose: str) -> str:
    """``fields`` as JSON, base64url, with its MAC for ``purpose``: a token of ours."""
    body = json.dumps(fields, separators=(",", ":")).encode()
    return _b64(body) + "." + _b64(_mac(key, body, purpose))


def _opened(key: str, token: str, purpose: str, now: float) -> dict:
    """The fields of a :func:`_sealed` token for ``purpose``, checked and not expired (``e``).

    :raises BadLink: the signature is wrong or the token has expired."""
    try:
        body_text, mac_text = token.split(".", 1)
        body, mac = _unb64(body_text), _unb64(mac_text)
    except (ValueError, TypeError):
        raise BadLink("this link is not valid") from None
    if not hmac.compare_digest(mac, _mac(key, body, purpose)):
        raise BadLink("this link is not valid")
    fields = json.loads(body)
    if fields["e"] < now:
        raise BadLink("this link has expired")
    return fields


# One signed-action primitive behind every button and link (mail, ntfy, Pushover, Telegram,
# Mattermost, Slack, Web Push, Discord): short enough for Telegram's 64-byte callback data.
# It names a notification (so the person it went to, and the incidents it carried), the
# action, whether it acts on the one row's incident (mail's per-item links) or on everything
# the message carried (a push's buttons), and when it expires; used once (its body is the nonce).
ACTION_CODES = {("acknowledge", False): "a", ("resolve", False): "r", ("acknowledge", True): "A",
                ("resolve", True): "R", ("snooze", False): "s", ("snooze", True): "S"}  # snooze: 1 h
_ACTION_OF = {code: pair for pair, code in ACTION_CODES.items()}


def make_action(key: str, notification_id: int, action: str, whole: bool, now: float) -> str:
    """``<code><notification id>.<expiry>.<mac>``, base 36 numbers: about 30 characters."""
    code = ACTION_CODES.get((action, whole))
    if code is None:
        raise ValueError(action)
    body = f"{code}{_b36(notification_id)}.{_b36(int(now) + LINK_SECONDS)}"
    return body + "." + _b64(_mac(key, body.encode(), "action")[:12])


def read_action(key: str, token: str, now: float) -> dict:
    """The action's fields (``notification``, ``action``, ``whole``, ``nonce``).

    :raises BadLink: the signature is wrong or the action has expired."""
    body, _, mac = token.rpartition(".")
    head, _, expiry = body.partition(".")
    try:
        valid = hmac.compare_digest(_unb64(mac), _mac(key, body.encode(), "action")[:12])
        pair = _ACTION_OF[head[:1]]
        notification_id, expires = int(head[1:], 36), int(expiry, 36)
    except (ValueError, TypeError, KeyError):
        raise BadLink("this link is not valid") from None
    if not valid:
        raise BadLink("this link is not valid")
    if expires < now:
        raise BadLink("this link has expired")
    return {"notification": notification_id, "action": pair[0], "whole": pair[1], "nonce": body}


def is_action(token: str) -> bool:
    """Whether a link's token is a signed action (else one of the longer links mailed before)."""
    return token.count(".") == 2 and token[:1] in _ACTION_OF


def _b36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if not number:
            return text


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """``Callgoose-Signature``: ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


SLACK_TOLERANCE_SECONDS = 5 * 60  # how far Slack's request timestamp may be from now (its own advice)
SLACK_LINK_SECONDS = 15 * 60  # a Slack account's linking link


def slack_signature(signing_secret: str, timestamp: str, body: bytes) -> str:
    """What Slack sends as ``X-Slack-Signature``: ``v0=`` and the hex HMAC-SHA256 of
    ``v0:<X-Slack-Request-Timestamp>:<raw body>`` keyed with the app's signing secret."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def slack_valid(signing_secret: str | None, timestamp: str | None, body: bytes, signature: str | None,
                now: float) -> bool:
    """Whether a request is Slack's: signed with the secret, over this very body, within
    :data:`SLACK_TOLERANCE_SECONDS` of ``now`` (an old request replayed is refused)."""
    if not signing_secret or not signature or not timestamp or not timestamp.isascii() \
            or not timestamp.isdigit() or abs(now - int(timestamp)) > SLACK_TOLERANCE_SECONDS:
        return False
    expected = slack_signature(signing_secret, timestamp, body).encode()
    return hmac.compare_digest(expected, signature.encode("utf-8", "replace"))


def make_slack_link(key: str, team: str, user: str, name: str, now: float) -> str:
    """A signed token naming a Slack account (its team and user id, and a name to show), for
    the page that links it to the Callgoose user who opens it; it expires after 15 minutes."""
    return _sealed(key, {"t": team, "u": user, "n": name, "e": int(now) + SLACK_LINK_SECONDS}, "slack-link")


def read_slack_link(key: str, token: str, now: float) -> dict:
    """The token's fields (``team``, ``user``, ``name``).

    :raises BadLink: the signature is wrong or the token has expired."""
    fields = _opened(key, token, "slack-link", now)
    return {"team": fields["t"], "user": fields["u"], "name": fields["n"]}


# A sign-in link (issue 19): an invitation (72 hours) or a password reset (1 hour). It names
# the user, its purpose and its expiry, and a stamp of the user's password as it was when sent
# (so a link dies once a password is set); a nonce makes it work once (used_links).
ACCESS_SECONDS = {"invite": 72 * 3600, "reset": 3600}


def make_access(key: str, user_id: int, purpose: str, stamp: str, now: float) -> str:
    """A signed token for "set your password" (``purpose``: invite or reset)."""
    if purpose not in ACCESS_SECONDS:
        raise ValueError(purpose)
    return _sealed(key, {"u": user_id, "p": purpose, "s": stamp, "e": int(now) + ACCESS_SECONDS[purpose],
                         "n": secrets.token_hex(8)}, "access")


def read_access(key: str, token: str, now: float) -> dict:
    """The link's fields (``user``, ``purpose``, ``stamp``, ``nonce``).

    :raises BadLink: the signature is wrong or the link has expired."""
    fields = _opened(key, token, "access", now)
    return {"user": fields["u"], "purpose": fields["p"], "stamp": fields["s"], "nonce": fields["n"]}


def password_stamp(password_hash: str) -> str:
    """A short digest of a stored password hash (empty: none yet), carried by a sign-in link."""
    return hashlib.sha256(("stamp:" + password_hash).encode()).hexdigest()[:16]


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """What Twilio sends as ``X-Twilio-Signature``: base64 of HMAC-SHA1 over the full URL
    followed by every POST parameter's name and value, sorted by name."""
    data = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def twilio_valid(auth_token: str, url: str, params: dict[str, str], signature: str | None) -> bool:
    if not signature or not auth_token:
        return False
    return hmac.compare_digest(twilio_signature(auth_token, url, params), signature)


def code_digest(code: str) -> str:
    """How a verification code is kept: its SHA-256, never the code."""
    return hashlib.sha256(code.strip().encode()).hexdigest()


def keyed_code(key: str, nonce: str) -> str:
    """A six-digit verification code made with the secret key from a nonce (the code's
    notification's delivery id): a call's TwiML can say it when Twilio asks, without the code
    being stored anywhere."""
    return f"{int.from_bytes(_mac(key, nonce.encode(), 'code')[:8], 'big') % 10**6:06d}"
