"""Text from users' files, made safe to print on a terminal.

File names, titles and reasons come from the documents folder. A name holding
an ANSI escape could recolour, hide or rewrite what the admin sees; one holding
a newline could forge a line of the report. Control characters are shown as
escapes (\\x1b, \\n) instead of being obeyed, and rich markup in them is not
interpreted.
"""

from __future__ import annotations

import re

from rich.markup import escape

# C0 and C1 controls, DEL, and the Unicode line separators and bidirectional overrides.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(char: str) -> str:
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def printable(text: str, *, keep_lines: bool = False) -> str:
    """The text with control characters shown as escapes; `keep_lines` keeps newlines and
    tabs (for running text such as an answer, never for a file name)."""
    if keep_lines:
        return _CONTROL.sub(
            lambda m: m.group() if m.group() in "\n\t" else _visible(m.group()), text
        )
    return _CONTROL.sub(lambda m: _visible(m.group()), text)


def shown(text: str, *, keep_lines: bool = False) -> str:
    """printable() text, escaped for rich markup (for console.print)."""
    return escape(printable(text, keep_lines=keep_lines))
