"""Web Push to a browser that subscribed on My notifications: the dashboard's own service
worker (static/sw.js) shows the page, and its Acknowledge / Resolve buttons POST the signed
actions. No third party reads a page: the body is encrypted for the browser (RFC 8291).

A device is added by the browser, never by the form or the configuration document (a
subscription belongs to one browser, which subscribes again after a reinstall). The push
service's URL is the browser's choice, so the SSRF guard checks it like a webhook's.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import secrets
import time
from email.utils import parseaddr
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..delivery import Permanent, Settings, webhook
from ..engine.messages import MAX_LISTED, TEXT_KINDS
from ..engine.paging import CODE_SECONDS
from ..engine.rules import SpecError
from ..engine.words import Plural, Say
from .base import Channel, Field, Outgoing, check_url, cut, facts

log = logging.getLogger(__name__)
KEY_FILE = "vapid_private.pem"  # in the instance folder, beside secret_key
MAX_PLAINTEXT = 3993  # RFC 8291: a 4096-octet body less the 86-octet header, the delimiter and the tag
TTL_SECONDS = 3600  # how long the push service keeps a page for a device that is offline
JWT_SECONDS = 12 * 3600  # RFC 8292: at most 24 hours ahead
TITLE_CHARS = 200


def _b64url(value) -> bytes:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_-]+={0,2}", value.strip()):
        raise ValueError("not base64url")
    bare = value.strip().rstrip("=")
    try:
        return base64.urlsafe_b64decode(bare + "=" * (-len(bare) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


def check_p256dh(value, path: str) -> str:
    """The browser's public key: an uncompressed P-256 point, base64url (65 octets)."""
    try:
        raw = _b64url(value)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        if len(raw) != 65:
            raise ValueError("not uncompressed")
    except ValueError:
        raise SpecError(path, Say("must be the subscription's p256dh key (base64url)")) from None
    return value.strip()


def check_auth(value, path: str) -> str:
    """The subscription's auth secret: 16 octets, base64url."""
    try:
        if len(_b64url(value)) != 16:
            raise ValueError("not 16 octets")
    except ValueError:
        raise SpecError(path, Say("must be the subscription's auth secret (base64url)")) from None
    return value.strip()


def subscription_values(subscription) -> dict:
    """A browser's ``PushSubscription.toJSON()`` as the channel's fields (checked by :meth:`Channel.check`)."""
    if not isinstance(subscription, dict):
        return {}
    keys = subscription.get("keys") if isinstance(subscription.get("keys"), dict) else {}
    return {"endpoint": subscription.get("endpoint"), "p256dh": keys.get("p256dh"), "auth": keys.get("auth")}


BROWSERS = (("Edge", r"Edg(e|A|iOS)?/"), ("Opera", r"OPR/|Opera"), ("Samsung Internet", r"SamsungBrowser/"),
            ("Firefox", r"Firefox/|FxiOS/"), ("Chrome", r"Chrome/|CriOS/"), ("Safari", r"Safari/"))
SYSTEMS = (("Android", r"Android"), ("iPhone", r"iPhone"), ("iPad", r"iPad"), ("Windows", r"Windows"),
           ("ChromeOS", r"CrOS"), ("macOS", r"Mac OS X|Macintosh"), ("Linux", r"Linux"))


def device(user_agent: str) -> tuple[str | None, str | None]:
    """The browser and system a User-Agent names ("Firefox", "Android"), to name the device."""
    def first(table):
        return next((name for name, pattern in table if re.search(pattern, user_agent or "")), None)
    return first(BROWSERS), first(SYSTEMS)


def key_path(folder: str | None) -> str:
    """Where this server's VAPID key is: in the instance folder (``INSTANCE_PATH``)."""
    if not folder:
        raise Permanent("the server has no instance folder for its VAPID key (INSTANCE_PATH)")
    return os.path.join(folder, KEY_FILE)


def vapid_key(path: str) -> ec.EllipticCurvePrivateKey:
    """This server's VAPID key, made on first use (mode 0600). Every browser subscribed with
    its public key: a new key means every device subscribes again. Two processes making it at
    once keep the first one written (a hard link never replaces a file)."""
    try:
        with open(path, "rb") as fh:
            return serialization.load_pem_private_key(fh.read(), password=None)
    except FileNotFoundError:
        pass
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    spare = f"{path}.{secrets.token_hex(6)}"
    fd = os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        try:
            os.link(spare, path)
        except FileExistsError:
            with open(path, "rb") as fh:
                return serialization.load_pem_private_key(fh.read(), password=None)
    finally:
        os.unlink(spare)
    return key


def public_key(key: ec.EllipticCurvePrivateKey) -> str:
    """The key a page gives ``pushManager.subscribe`` (applicationServerKey): base64url of the
    uncompressed point."""
    raw = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def page_key(folder: str | None) -> str | None:
    """The key a page subscribes with (made on first use), or None when it can be neither
    read nor made (a read-only instance folder): the page then offers no button."""
    try:
        return public_key(vapid_key(key_path(folder)))
    except (OSError, ValueError, Permanent) as exc:
        log.warning("Web Push is off: this server's VAPID key cannot be read or made: %s", exc)
        return None


def contact(settings: Settings) -> str:
    """The VAPID ``sub``: MAIL_FROM as mailto: when it has a real domain, else an https
    BASE_URL, else MAIL_FROM all the same (push services want a way to reach the sender)."""
    address = parseaddr(settings.mail_from)[1] or settings.mail_from
    domain = address.rpartition("@")[2].lower()
    if "." in domain and not domain.endswith(".localhost"):
        return f"mailto:{address}"
    if settings.base_url.startswith("https://"):
        return settings.base_url
    return f"mailto:{address}"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class WebPush(Channel):
    name = "webpush"
    label = Say("Web Push")
    noun = Say("Web Push")
    fields = (Field("endpoint", Say("Push endpoint"), check_url, kept="address"),
              Field("p256dh", Say("Browser key"), check_p256dh),
              Field("auth", Say("Auth secret"), check_auth, secret=True))
    limit = MAX_PLAINTEXT  # bytes of JSON
    buttons = True
    exported = False  # a subscription is one browser's: devices subscribe again, never imported
    form = False  # added by the browser ("Get pages on this device")
    url_field = "endpoint"

    def shown(self, address: str, options: dict | None) -> str:
        return urlsplit(address).hostname or address

    def destination(self, target: str, options: dict) -> str:
        return "webpush:" + (urlsplit(target).hostname or "?")

    def payload(self, out: Outgoing) -> bytes:
        """The JSON the service worker shows, at most :data:`MAX_PLAINTEXT` octets (the body is
        cut): title, body, the incident's URL, a tag (one notification per incident), and the
        signed actions with their labels in the recipient's language."""
        first, words = out.items[0], out.words
        if first.kind in TEXT_KINDS:
            lines = words(first.text).splitlines() or [""]
            title, body = lines[0], "\n".join(lines[1:]).strip()
            url, tag = f"{out.settings.base_url}/notifications/me", f"callgoose-{first.kind}"
        else:
            title = out.message.subject.removeprefix("[Callgoose] ")
            shown = out.items[:MAX_LISTED]
            body = "\n".join([f"{item.service}: {item.title}" for item in shown] + facts(out))
            if out.size > len(shown):
                body += "\n" + words(Plural("... and %(num)s more.", "... and %(num)s more.", out.size - len(shown), num=out.size - len(shown)))
            one = out.size == 1 and first.incident_id is not None
            url = first.url if one else f"{out.settings.base_url}/incidents"
            tag = f"incident-{first.incident_id}" if one else "callgoose-bundle"
        doc = {"title": cut(title, TITLE_CHARS), "body": "", "url": url, "tag": tag, "kind": out.kind,
               "urgency": first.urgency if out.pages else None,
               "require_interaction": out.pages and first.urgency == "high",
               "actions": {}}
        if out.pages:
            doc["actions"] = {action: out.action_url(action) for action in ("acknowledge", "resolve")}
            doc["labels"] = {key: words(text) for key, text in (
                ("acknowledge", Say("Acknowledge")), ("resolve", Say("Resolve")), ("acknowledged", Say("Acknowledged")),
                ("resolved", Say("Resolved")), ("failed", Say("That did not work. Open the incident to act on it.")))}
        return _within(doc, body)

    def prepare(self, out: Outgoing):
        settings = out.settings
        subscription = {"endpoint": out.target, "keys": {"p256dh": out.options.get("p256dh", ""),
                                                         "auth": out.options.get("auth", "")}}
        # Imported when a push is sent, not with the registry: pywebpush brings requests and
        # aiohttp, 30 MiB of every process that never sends one.
        from py_vapid import Vapid
        from pywebpush import WebPusher

        body = WebPusher(subscription).encode(self.payload(out))["body"]
        claims = {"sub": contact(settings), "aud": _origin(out.target), "exp": int(time.time()) + JWT_SECONDS}
        key = vapid_key(key_path(settings.get("INSTANCE_PATH")))
        headers = {**Vapid(key).sign(claims), "Content-Encoding": "aes128gcm",
                   "Content-Type": "application/octet-stream",
                   "TTL": str(CODE_SECONDS if out.kind == "verify" else TTL_SECONDS),
                   "Urgency": "high" if out.pages and out.items[0].urgency == "high" else "normal"}
        return lambda: sent(webhook.request(settings, "POST", out.target, body, headers, guard=True))


def _within(doc: dict, body: str) -> bytes:
    """``doc`` with ``body`` as JSON, the body cut until the whole fits in one push."""
    room = MAX_PLAINTEXT
    while room >= 0:
        data = json.dumps({**doc, "body": cut(body, room, "bytes") if room >= 3 else ""}, ensure_ascii=False).encode()
        if len(data) <= MAX_PLAINTEXT:
            return data
        room -= len(data) - MAX_PLAINTEXT
    raise Permanent("the message does not fit in one push (4 KiB), even without its text")


def sent(answer: webhook.Answer) -> str | None:
    """The push service's answer as the outbox reads it: its message id for a 2xx; a device
    gone (404, 410) or a refused key (401, 403) fails for good, saying what to do."""
    said = answer.json()
    detail = str(said.get("message") or said.get("error") or "")[:200] if isinstance(said, dict) else ""
    if answer.status in (404, 410):
        raise Permanent(f"the push service answered HTTP {answer.status}: this device unsubscribed or its "
                        "subscription expired; get pages on it again")
    if answer.status in (401, 403):
        raise Permanent(f"the push service refused this server's VAPID signature (HTTP {answer.status}"
                        f"{': ' + detail if detail else ''}); if the server's key changed, get pages on the "
                        "device again")
    status = webhook.outcome(answer, "the push service", detail)
    location = answer.headers.get("location", "")
    return location.rstrip("/").rsplit("/", 1)[-1][:64] or status


CHANNEL = WebPush()
