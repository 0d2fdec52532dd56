"""The languages Callgoose speaks (issue 21): one table, read by the dashboard (its picker,
``lang`` and ``dir``), the worker (mail, SMS, push and chat texts) and the phone (a Twilio
``<Say>`` language and voice). A language is its BCP 47 code as users and the API write it
(``pt-BR``, ``zh-Hans``); its catalogue lives in ``callgoose/translations/<catalogue>/``.

Adding a language is one commit: a row here, its catalogue (``make translations`` after
``pybabel init``), its glossary, and the completeness test passes (README, "Languages")."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    code: str  # BCP 47, as stored in users.language and written in the API and the HTML
    name: str  # the language's name in itself, as the picker shows it
    catalogue: str  # the directory under callgoose/translations (Babel's locale identifier)
    voice: tuple[str, str] | None  # Twilio <Say> language and voice; None: no voice, calls speak English
    rtl: bool = False


def _google(tts: str) -> tuple[str, str]:
    """A Google standard voice as Twilio names it (``Google.de-DE-Standard-A``)."""
    return tts, f"Google.{tts}-Standard-A"


TABLE = (
    Language("en", "English", "en", _google("en-US")),
    Language("de", "Deutsch", "de", _google("de-DE")),
    Language("es", "Español", "es", _google("es-ES")),
    Language("fr", "Français", "fr", _google("fr-FR")),
    Language("pt-BR", "Português (Brasil)", "pt_BR", _google("pt-BR")),
    Language("pt-PT", "Português (Portugal)", "pt_PT", _google("pt-PT")),
    Language("ja", "日本語", "ja", _google("ja-JP")),
    Language("zh-Hans", "简体中文", "zh_Hans", _google("cmn-CN")),
    Language("zh-Hant", "繁體中文", "zh_Hant", _google("cmn-TW")),
    Language("ko", "한국어", "ko", _google("ko-KR")),
    Language("it", "Italiano", "it", _google("it-IT")),
    Language("nl", "Nederlands", "nl", _google("nl-NL")),
    Language("pl", "Polski", "pl", _google("pl-PL")),
    Language("ru", "Русский", "ru", _google("ru-RU")),
    Language("uk", "Українська", "uk", _google("uk-UA")),
    Language("cs", "Čeština", "cs", _google("cs-CZ")),
    Language("sk", "Slovenčina", "sk", _google("sk-SK")),
    Language("sv", "Svenska", "sv", _google("sv-SE")),
    Language("da", "Dansk", "da", _google("da-DK")),
    Language("nb", "Norsk bokmål", "nb", _google("nb-NO")),
    Language("fi", "Suomi", "fi", _google("fi-FI")),
    Language("tr", "Türkçe", "tr", _google("tr-TR")),
    Language("hu", "Magyar", "hu", _google("hu-HU")),
    Language("ro", "Română", "ro", _google("ro-RO")),
    Language("el", "Ελληνικά", "el", _google("el-GR")),
    Language("bg", "Български", "bg", _google("bg-BG")),
    Language("hr", "Hrvatski", "hr", None),  # neither Google's nor Amazon's voices speak Croatian
    Language("id", "Bahasa Indonesia", "id", _google("id-ID")),
    Language("vi", "Tiếng Việt", "vi", _google("vi-VN")),
    Language("th", "ไทย", "th", _google("th-TH")),
    Language("hi", "हिन्दी", "hi", _google("hi-IN")),
    Language("ar", "العربية", "ar", _google("ar-XA"), rtl=True),
    Language("he", "עברית", "he", _google("he-IL"), rtl=True),
)

# The languages offered: those whose catalogue is complete (tests/test_i18n.py checks each).
# A language in TABLE and not here is being translated (make translations lists what is left).
OFFERED = tuple(language.code for language in TABLE)

BY_CODE = {language.code: language for language in TABLE}
LANGUAGES = {code: BY_CODE[code] for code in OFFERED}

# Tags browsers and people write for a language we name otherwise.
_ALIASES = {
    "pt": "pt-BR", "zh": "zh-Hans", "zh-cn": "zh-Hans", "zh-sg": "zh-Hans", "zh-my": "zh-Hans",
    "zh-tw": "zh-Hant", "zh-hk": "zh-Hant", "zh-mo": "zh-Hant", "no": "nb", "nn": "nb", "iw": "he", "in": "id",
}


def normalise(tag: str | None) -> str | None:
    """The offered language a tag names (``pt`` -> ``pt-BR``, ``zh-TW`` -> ``zh-Hant``,
    ``de-AT`` -> ``de``), or None."""
    if not tag:
        return None
    tag = tag.strip().replace("_", "-")
    lower = tag.lower()
    for code in OFFERED:
        if code.lower() == lower:
            return code
    if lower in _ALIASES:
        found = _ALIASES[lower]
        return found if found in LANGUAGES else None
    parts = lower.split("-")
    if parts[0] == "zh":  # a script wins over a region: zh-Hant-HK
        script = "zh-Hant" if "hant" in parts or any(p in ("tw", "hk", "mo") for p in parts) else "zh-Hans"
        return script if script in LANGUAGES else None
    if parts[0] == "pt" and len(parts) > 1:  # every Portuguese but Brazil's writes as Portugal does
        found = "pt-BR" if "br" in parts else "pt-PT"
        return found if found in LANGUAGES else normalise("pt")
    return normalise(parts[0]) if len(parts) > 1 else None


def best(accepted: list[tuple[str, float]]) -> str | None:
    """The offered language a browser's Accept-Language (tags with their quality) asks for."""
    for tag, _quality in sorted(accepted, key=lambda pair: -pair[1]):
        found = normalise(tag)
        if found:
            return found
    return None


def catalogue(code: str | None) -> str:
    """The catalogue directory (Babel's locale) for a language code; English for an unknown one."""
    found = BY_CODE.get(normalise(code) or "")
    return found.catalogue if found else "en"


def code_of(catalogue_name: str) -> str:
    """A catalogue directory's language code (``pt_BR`` -> ``pt-BR``)."""
    for language in TABLE:
        if language.catalogue == catalogue_name:
            return language.code
    return "en"


def sentences(code: str | None, parts) -> str:
    """Sentences as one text: Chinese and Japanese sentences follow each other with no space."""
    return ("" if (code or "").startswith(("ja", "zh")) else " ").join(part for part in parts if part)


def is_rtl(code: str | None) -> bool:
    found = BY_CODE.get(code or "")
    return bool(found and found.rtl)


def spoken(code: str | None) -> str:
    """The language a phone call speaks to this person: theirs when the provider has a voice
    for it, else English."""
    found = BY_CODE.get(code or "") or BY_CODE.get(normalise(code) or "")
    return found.code if found is not None and found.voice is not None else "en"


def voice(code: str | None) -> tuple[str, str]:
    """The Twilio ``<Say>`` language and voice for a call in ``spoken(code)``."""
    return BY_CODE[spoken(code)].voice
