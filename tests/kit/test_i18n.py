"""Every user-facing message has a zh-CN translation that keeps its placeholders."""

import ast
import string
from pathlib import Path

import ordertrail
from ordertrail.i18n import Msg, _catalog, normalize_lang, render

SRC = Path(ordertrail.__file__).parent


def _messages() -> dict[str, str]:
    found = {}
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "Msg" and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)):
                found[node.args[0].value] = f"{path.relative_to(SRC)}:{node.lineno}"
    return found


def _fields(text: str) -> set[str]:
    return {f for _lit, f, _spec, _conv in string.Formatter().parse(text) if f}


def test_every_message_has_a_chinese_translation():
    catalog = _catalog("zh-CN")
    messages = _messages()
    assert len(messages) > 20
    missing = [f"{where}: {text}" for text, where in messages.items() if text not in catalog]
    assert not missing, "untranslated messages:\n" + "\n".join(missing)


def test_translations_keep_their_placeholders():
    catalog = _catalog("zh-CN")
    wrong = [text for text, where in _messages().items()
             if text in catalog and _fields(catalog[text]) != _fields(text)]
    assert not wrong, wrong


def test_rendering_follows_accept_language():
    msg = Msg("No order {order_no}.", {"order_no": "SO1"})
    assert render(msg, "en") == "No order SO1."
    assert "SO1" in render(msg, normalize_lang("zh-CN,zh;q=0.9,en;q=0.8"))
    assert render(msg, normalize_lang("zh-CN")) != render(msg, "en")
    assert normalize_lang("fr-FR") == "en"
