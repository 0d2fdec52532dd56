"""The channel registry: every way Callgoose reaches a person, one module each.

Each module defines ``CHANNEL``, an instance of :class:`~callgoose.channels.base.Channel`.
The engine's checks, the forms, the ledger's filters, the configuration document (S34
``contact_methods[].type``), the outbox and the docs read this registry; adding a channel is
its module and one line in :data:`MODULES`.
"""

from __future__ import annotations

from importlib import import_module

from .base import Channel

MODULES = ("email", "webhook", "sms", "voice", "pushover", "discord", "matrix", "mattermost", "telegram", "webpush", "ntfy", "gotify")

REGISTRY: dict[str, Channel] = {}
for _module in MODULES:
    _channel = import_module(f".{_module}", __name__).CHANNEL
    REGISTRY[_channel.name] = _channel

NAMES: tuple[str, ...] = tuple(REGISTRY)


def get(name: str) -> Channel | None:
    return REGISTRY.get(name)


def follow_up_names() -> tuple[str, ...]:
    """The channels that get "acknowledged by" and "resolved" after a page."""
    return tuple(name for name, channel in REGISTRY.items() if channel.follow_ups)


def settings_defaults() -> dict[str, object]:
    """Every channel's own ``CALLGOOSE_`` settings with their defaults (the app's DEFAULTS)."""
    found: dict[str, object] = {}
    for channel in REGISTRY.values():
        found.update(channel.config)
    return found
