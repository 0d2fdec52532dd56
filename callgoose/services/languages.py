"""Wording in a person's language outside a request (mail, SMS and webhook texts the worker
sends): the dashboard's catalogues (callgoose/translations), read with Babel."""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton
from babel.support import NullTranslations, Translations

from ..engine.languages import catalogue as _catalogue_of
from ..engine.words import Moment, render

DIRECTORY = Path(__file__).resolve().parent.parent / "translations"


@lru_cache(maxsize=16)
def _catalogue(language: str) -> NullTranslations:
    if language == "en":
        return NullTranslations()
    return Translations.load(str(DIRECTORY), [language])  # an unknown language reads as English


def words_for(language: str | None) -> Callable[[object], str]:
    """A function that words a text (:class:`~callgoose.engine.words.Say`) in ``language``."""
    language = _catalogue_of(language)  # "pt-BR" -> pt_BR; an unknown language: English
    catalogue = _catalogue(language)

    def moment(when: Moment) -> str:
        if language == "en":
            return str(when)
        local = datetime.fromtimestamp(when.epoch, timezone.utc).astimezone(ZoneInfo(when.zone))
        day = format_skeleton("MMMEd", local, locale=language)
        return f"{day} {format_skeleton('Hm', local, locale=language)} {local.strftime('%Z')}"

    return lambda text: render(text, catalogue.gettext, moment, ngettext=catalogue.ngettext)
