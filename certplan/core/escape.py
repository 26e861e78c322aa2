"""Make text that a CA or a file supplied safe to show: in a terminal, and in a pull
request comment.

Plan output quotes state files, specs and CA answers (an ARI explanationURL, a
recorded path), all of which a pull request or a CA can choose. In text, control
characters (terminal escapes, carriage returns, newlines, bidi overrides) are
shown as \\xNN / \\uNNNN instead of acting. In markdown, on top of that, nothing
renders: HTML is entity-escaped, the characters of links, images, emphasis and
code are backslash-escaped, and anything a renderer would turn into a link by
itself (a URL, a www. name, an e-mail address) is shown as code.
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_CONTROL_BUT_NEWLINE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_URLISH = re.compile(r"\S*(?:://|www\.|@)\S*", re.IGNORECASE)  # GFM autolinks these
_MD_SPECIAL = re.compile(r"([\\`*_\[\]!|~#])")


def _shown(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def plain(text: str, *, newlines: bool = False) -> str:
    """`text` with every control character made visible (newlines kept if asked)."""
    pattern = _CONTROL_BUT_NEWLINE if newlines else _CONTROL
    return pattern.sub(_shown, text)


def _md_words(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text).replace("\n", "<br>")


def _md_code(text: str) -> str:
    return "`" + text.replace("`", "'").replace("|", "\\|") + "`"


def markdown(text: str) -> str:
    """`text` for a markdown table cell or line: shown as written, nothing rendered."""
    text = plain(text, newlines=True)
    out, pos = [], 0
    for m in _URLISH.finditer(text):
        token = m.group().rstrip(",;.")  # punctuation after a name is not part of it
        out += [_md_words(text[pos:m.start()]), _md_code(token)]
        pos = m.start() + len(token)
    out.append(_md_words(text[pos:]))
    return "".join(out)
