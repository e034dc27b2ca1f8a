"""Message catalogs (gettext .po files, read with Babel) for user-facing text in en and zh-CN.

Messages are written in English with ``{named}`` placeholders; the English text is the msgid.
Parameters that are themselves translatable (stage names) are passed as ``Text`` values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from babel.messages.pofile import read_po

SUPPORTED = ("en", "zh-CN")


@dataclass(frozen=True)
class Msg:
    """A translatable message and its parameters, rendered late in the reader's language."""

    text: str
    params: dict[str, Any] = field(default_factory=dict)

    def render(self, lang: str = "en") -> str:
        return render(self, lang)


@lru_cache
def _catalog(lang: str) -> dict[str, str]:
    """The language's messages: ``zh_CN.po`` and the domains' own ``zh_CN.<domain>.po``."""
    stem = {"zh-CN": "zh_CN"}.get(lang)
    if stem is None:
        return {}
    out: dict[str, str] = {}
    folder = resources.files("ordertrail.i18n")
    names = sorted(f.name for f in folder.iterdir()
                   if f.name == f"{stem}.po" or (f.name.startswith(f"{stem}.")
                                                 and f.name.endswith(".po")))
    for name in names:
        with folder.joinpath(name).open("rb") as fh:
            catalog = read_po(fh)
        out.update({m.id: m.string for m in catalog
                    if m.id and m.string and isinstance(m.id, str)})
    return out


def normalize_lang(value: str | None) -> str:
    """Pick the best supported language from an Accept-Language value."""
    if not value:
        return "en"
    for part in value.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return "en"


def _param(value: Any, lang: str) -> str:
    if hasattr(value, "get") and hasattr(value, "en") and hasattr(value, "zh"):
        return str(value.get("zh" if lang.startswith("zh") else "en"))
    if isinstance(value, list | tuple | set | frozenset):
        sep = "、" if lang.startswith("zh") else ", "
        return sep.join(_param(v, lang) for v in value) or ("（无）" if lang.startswith("zh")
                                                             else "(none)")
    if isinstance(value, Msg):
        return value.render(lang)
    return str(value)


def render(msg: Msg, lang: str = "en") -> str:
    """Translate and fill in a message."""
    template = _catalog(lang).get(msg.text, msg.text)
    if not msg.params:
        return template  # plain text: braces in it (JSON examples, user input) are literal
    params = {k: _param(v, lang) for k, v in msg.params.items()}
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError):
        try:
            return msg.text.format(**{k: _param(v, "en") for k, v in msg.params.items()})
        except (KeyError, IndexError, ValueError):
            return msg.text
