"""OpenID Connect's client side (issue 19, item 3): discovery, the authorization request
(Authorization Code flow with PKCE S256, state and nonce), the code exchange and the ID
token's checks (signature by the provider's JWKS, iss, aud, exp, nonce).

Authlib's OAuth2Session builds the request and exchanges the code; joserfc (Authlib's own
JOSE library, which its ``authlib.jose`` now defers to) checks the token. Only network calls
here, never inside a transaction, each with a short timeout: a provider that is down or slow
costs a sign-in a few seconds and a clear error, never a stalled server. Discovery and keys
are cached; a failed discovery is remembered for a few seconds so that clicks do not pile up.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ..engine.words import Say

TIMEOUT = (3, 5)  # seconds to connect, to read: a sign-in waits at most this per call
CACHE_SECONDS = 3600  # discovery and keys are fetched again after this (or on an unknown key)
RECHECK_SECONDS = 30  # a click on "Sign in with" asks for discovery again when older: is the provider there?
DOWN_SECONDS = 10  # a provider found down is not asked again before this
LEEWAY = 60  # seconds of clock difference allowed on exp and iat
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
_cache: dict[str, tuple[float, float, object]] = {}  # key: (fetched at, valid until, value or ProviderError)
_lock = threading.Lock()


class ProviderError(Exception):
    """The provider could not be reached, or its answer is refused; ``message`` (Say) says why."""

    def __init__(self, message: Say):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Client:
    """This server as the provider's client."""

    issuer: str
    client_id: str
    client_secret: str
    scopes: str
    redirect_uri: str

    @classmethod
    def of(cls, config, redirect_uri: str) -> "Client":
        return cls(str(config["OIDC_ISSUER"]).strip(), str(config["OIDC_CLIENT_ID"]),
                   str(config["OIDC_CLIENT_SECRET"]), str(config["OIDC_SCOPES"] or "openid"), redirect_uri)

    def _session(self) -> OAuth2Session:
        return OAuth2Session(self.client_id, self.client_secret, scope=self.scopes, redirect_uri=self.redirect_uri,
                             code_challenge_method="S256")


def provider_name(config) -> str:
    """The button's name: OIDC_PROVIDER_NAME, else the issuer's host."""
    return str(config.get("OIDC_PROVIDER_NAME") or urlsplit(str(config["OIDC_ISSUER"])).hostname or "OpenID")


def _cached(key: str, fetch, max_age: float = CACHE_SECONDS):
    now = time.monotonic()
    with _lock:
        found = _cache.get(key)
    if found is not None and found[1] > now and (isinstance(found[2], ProviderError) or now - found[0] < max_age):
        if isinstance(found[2], ProviderError):
            raise found[2]
        return found[2]
    try:
        value = fetch()
    except ProviderError as exc:
        with _lock:
            _cache[key] = (now, now + DOWN_SECONDS, exc)
        raise
    with _lock:
        _cache[key] = (now, now + CACHE_SECONDS, value)
    return value


def forget() -> None:
    """Drop what is cached (a test's provider started again, on another port)."""
    with _lock:
        _cache.clear()


def _get_json(url: str) -> dict:
    try:
        answer = requests.get(url, timeout=TIMEOUT, headers={"Accept": "application/json"})
        answer.raise_for_status()
        found = answer.json()
    except (requests.RequestException, ValueError) as exc:
        raise ProviderError(Say("the identity provider did not answer (%(reason)s)",
                                reason=type(exc).__name__)) from None
    if not isinstance(found, dict):
        raise ProviderError(Say("the identity provider's answer is not a JSON object"))
    return found


def metadata(issuer: str, max_age: float = CACHE_SECONDS) -> dict:
    """The provider's discovery document, checked: it names the configured issuer (exactly, as
    OpenID Connect Discovery wants) and the endpoints."""
    def fetch():
        found = _get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
        if found.get("issuer") != issuer:
            raise ProviderError(Say("the identity provider calls itself %(found)s, not %(issuer)s",
                                    found=repr(found.get("issuer")), issuer=issuer))
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(found.get(name), str):
                raise ProviderError(Say("the identity provider's discovery has no %(name)s", name=name))
        return found
    return _cached("meta " + issuer, fetch, max_age)


def _keys(uri: str, again: bool = False) -> KeySet:
    def fetch():
        try:
            return KeySet.import_key_set(_get_json(uri))
        except (JoseError, ValueError, TypeError, KeyError):
            raise ProviderError(Say("the identity provider's keys cannot be read")) from None
    if again:
        with _lock:
            _cache.pop("keys " + uri, None)
    return _cached("keys " + uri, fetch)


@dataclass(frozen=True)
class Started:
    """An authorization request: where to send the browser, and what to keep until it returns."""

    url: str
    state: str
    nonce: str
    verifier: str


def start(client: Client) -> Started:
    """The authorization request, with a fresh state, nonce and PKCE verifier; discovery asked
    again when older than RECHECK_SECONDS, so that a provider found down is said at once, not
    after the browser left. :raises ProviderError:"""
    meta = metadata(client.issuer, RECHECK_SECONDS)
    state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    url, _ = client._session().create_authorization_url(meta["authorization_endpoint"], state=state, nonce=nonce,
                                                        code_verifier=verifier)
    return Started(url, state, nonce, verifier)


def finish(client: Client, started: dict, args: dict, now: float) -> dict:
    """The claims of the returning browser's sign-in: the state matches, the code is exchanged
    (with the verifier), the ID token checked; claims missing from it are taken from the
    userinfo endpoint when the provider has one. :raises ProviderError:"""
    if args.get("error"):
        raise ProviderError(Say("the identity provider refused the sign-in: %(error)s",
                                error=str(args.get("error_description") or args["error"])[:200]))
    state = str(args.get("state") or "").encode("utf-8", "replace")
    if not started or not state or not secrets.compare_digest(state, started["state"].encode()):
        raise ProviderError(Say("this sign-in was not started here, or it was started again; try once more"))
    if args.get("iss") is not None and args["iss"] != client.issuer:  # RFC 9207: a mix-up
        raise ProviderError(Say("the answer comes from another identity provider"))
    meta = metadata(client.issuer)
    try:
        token = client._session().fetch_token(meta["token_endpoint"], code=str(args.get("code", "")),
                                              code_verifier=started["verifier"], timeout=TIMEOUT)
    except (requests.RequestException, AuthlibBaseError, ValueError) as exc:
        raise ProviderError(Say("the identity provider did not give a token (%(reason)s)",
                                reason=getattr(exc, "error", None) or type(exc).__name__)) from None
    claims = check_id_token(token.get("id_token"), meta["jwks_uri"], client, started["nonce"], now)
    if "email" not in claims and isinstance(meta.get("userinfo_endpoint"), str):
        claims = {**_userinfo(meta["userinfo_endpoint"], token.get("access_token"), claims["sub"]), **claims}
    return claims


def check_id_token(id_token, jwks_uri: str, client: Client, nonce: str, now: float) -> dict:
    """The ID token's claims when its signature (by the provider's keys), iss, aud (and azp),
    exp, iat and nonce hold. :raises ProviderError:"""
    if not isinstance(id_token, str) or not id_token:
        raise ProviderError(Say("the identity provider gave no ID token"))
    try:
        try:
            token = jwt.decode(id_token, _keys(jwks_uri), algorithms=ALGORITHMS)
        except (JoseError, ValueError):  # perhaps a key rotated since: fetch the keys once more
            token = jwt.decode(id_token, _keys(jwks_uri, again=True), algorithms=ALGORITHMS)
        jwt.JWTClaimsRegistry(
            now=int(now), leeway=LEEWAY, iss={"essential": True, "value": client.issuer},
            aud={"essential": True, "value": client.client_id}, sub={"essential": True},
            exp={"essential": True}, iat={"essential": True}, nonce={"essential": True, "value": nonce},
        ).validate(token.claims)
    except (JoseError, ValueError, TypeError) as exc:
        raise ProviderError(Say("the ID token is refused (%(reason)s)",
                                reason=getattr(exc, "error", None) or type(exc).__name__)) from None
    claims = token.claims
    audience = claims["aud"]
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != client.client_id:
        raise ProviderError(Say("the ID token is refused (%(reason)s)", reason="azp"))
    return dict(claims)


def _userinfo(url: str, access_token, subject: str) -> dict:
    try:
        answer = requests.get(url, timeout=TIMEOUT, headers={"Authorization": f"Bearer {access_token}"})
        answer.raise_for_status()
        found = answer.json()
    except (requests.RequestException, ValueError):
        return {}
    return found if isinstance(found, dict) and found.get("sub") == subject else {}
