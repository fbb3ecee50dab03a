"""Links in answers go only to domains the admin allows.

A document may carry a link its author did not mean partners to follow (a pasted phishing
address, an instruction to "pay at …"). Whatever composed the answer — the LLM or the
extractive quote — every link in it is checked: `PARTNERBOT_LINK_DOMAINS` lists the
domains allowed (a domain allows its subdomains); without it, the domains of the indexed
documents' own `url:` fields are. A link is a URL with a scheme, anything starting
`www.`, a Markdown or Slack link, an e-mail address, and a bare domain — lower-case
labels ending in a top-level label of letters that is not a file extension
(`evil.example/csat`, `northwind-csat.support/login`).

A Markdown or Slack link to another domain keeps its text (the sentence still reads); a
sentence holding a bare link to another domain is dropped whole, so no sentence is left
saying "register deals at before the deadline" (nor citing what it no longer says).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from bot.answering.composing import Composition

logger = logging.getLogger(__name__)

# File names and abbreviations that look like domains ("policy.pdf", "Node.js", "e.g.").
FILE_EXTENSIONS = frozenset(
    {
        *("md", "txt", "pdf", "doc", "docx", "xls", "xlsx", "csv", "ppt", "pptx", "json"),
        *("yaml", "yml", "html", "htm", "xml", "png", "jpg", "jpeg", "gif", "svg", "zip"),
        *("gz", "tar", "js", "ts", "py", "rb", "go", "java", "sh", "exe", "dll", "msi"),
        *("iso", "log", "ini", "cfg", "conf"),
    }
)
_MARKDOWN = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")
_ANGLE = re.compile(r"<((?:https?|mailto):[^|>\s]+)(?:\|([^>]*))?>")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_BARE = re.compile(
    r"(?<![\w@./-])(?:"
    r"(?:https?|ftp)://[^\s<>()\[\]]+"  # a URL with a scheme
    r"|www\.[^\s<>()\[\]]+"  # www.…
    r"|[\w.+-]+@" + _LABEL + r"(?:\." + _LABEL + r")+"  # an e-mail address
    r"|" + _LABEL + r"(?:\." + _LABEL + r")*\.[a-z]{2,24}(?![\w-])(?:[/:?#][^\s<>()\[\]]*)?"
    r")",
    re.IGNORECASE,
)
_CITE = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=\])\s+(?=[A-Z*_])")
_TRAILING = ".,;:!?'\")]"


def host_of(link: str) -> str | None:
    """The host a link leads to, lower-case (None: not a link to a host)."""
    text = link.strip().rstrip(_TRAILING).lower()
    if text.startswith("mailto:"):
        text = text[len("mailto:") :]
    if "@" in text and "://" not in text:
        return text.rpartition("@")[2] or None
    if "://" not in text:
        text = f"//{text}"
    try:
        host = urlsplit(text).hostname
    except ValueError:
        return None
    return host.strip(".") if host else None


def is_bare_domain(text: str) -> bool:
    """A bare `name.tld[/path]` that reads as an address: not a file name ("policy.pdf"),
    and without a path not in capitals ("ASP.NET", two sentences joined without a space)."""
    name = re.split(r"[/:?#]", text, maxsplit=1)[0]
    top = name.rsplit(".", 1)[-1]
    if not top.isalpha() or top.lower() in FILE_EXTENSIONS:
        return False
    return len(name) < len(text) or top == top.lower()


def registrable(host: str) -> str:
    """The domain a host belongs to: its last two labels, or three under a short generic
    second-level label ("partners.northwind.example" → "northwind.example",
    "www.shop.co.uk" → "shop.co.uk")."""
    labels = host.lower().strip(".").split(".")
    if (
        len(labels) >= 3
        and len(labels[-1]) == 2
        and labels[-2] in {"co", "com", "org", "net", "ac", "gov", "edu"}
    ):
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def domains_of_urls(urls: Iterable[str | None]) -> frozenset[str]:
    """The domains of documents' own `url:` fields: what answers may link to by default."""
    hosts = (host_of(url) for url in urls if url)
    return frozenset(registrable(h) for h in hosts if h and "." in h)


class LinkPolicy:
    """Which links an answer may show: those to `allowed()` domains (and their subdomains)."""

    def __init__(self, allowed: Callable[[], Iterable[str]]) -> None:
        self._allowed = allowed

    def allows(self, link: str) -> bool:
        host = host_of(link)
        if host is None:
            return False
        return any(host == d or host.endswith(f".{d}") for d in self._domains())

    def _domains(self) -> set[str]:
        return {d.strip().lower().strip(".") for d in self._allowed() if d.strip()}

    def clean(self, text: str) -> str:
        """The text with every link this policy does not allow taken out (`clean_links`)."""
        return clean_links(text, self.allows)


def clean_links(text: str, ok: Callable[[str], bool]) -> str:
    """The text with every link `ok` refuses taken out: a Markdown or Slack link keeps its
    words, a sentence with a bare one goes (so none is left broken)."""
    lines = []
    for line in text.split("\n"):
        line = _MARKDOWN.sub(lambda m: m.group(0) if ok(m.group(2)) else m.group(1), line)
        line = _ANGLE.sub(lambda m: m.group(0) if ok(m.group(1)) else m.group(2) or "", line)
        lines.append(_sentences(line, ok))
    return "\n".join(line for line in lines if line.strip() or not line)


def _sentences(line: str, ok: Callable[[str], bool]) -> str:
    if not _BARE.search(line):
        return line
    kept: list[str] = []
    for sentence in _SENTENCE_END.split(line):
        if not any(_foreign(m.group(0), ok) for m in _BARE.finditer(_outside_links(sentence))):
            kept.append(sentence)
            continue
        logger.info("left out a sentence linking elsewhere: %.80r", sentence)
    return " ".join(kept)


def _outside_links(sentence: str) -> str:
    """The sentence without its Markdown and Slack links (checked on their own)."""
    return _ANGLE.sub(" ", _MARKDOWN.sub(lambda m: m.group(1), sentence))


def _foreign(found: str, ok: Callable[[str], bool]) -> bool:
    """A bare link the policy does not allow (a bare `name.tld` only when it reads as one)."""
    link = found.rstrip(_TRAILING)
    plain = "://" not in link and not link.lower().startswith("www.") and "@" not in link
    if plain and not is_bare_domain(link):
        return False
    return not ok(link)


def within_policy(composition: Composition | None, policy: LinkPolicy | None) -> Composition | None:
    """A composed answer with the links the policy does not allow taken out (see `clean`);
    None when nothing cited is left."""
    if composition is None or policy is None:
        return composition
    text = policy.clean(composition.text)
    if text == composition.text:
        return composition
    present = {int(n) for m in _CITE.finditer(text) for n in m.group(1).split(",")}
    cited = tuple(n for n in composition.cited if n in present)
    if not cited:
        return None
    superseded = tuple(p for p in composition.superseded if p[0] in cited)
    return Composition(text.strip(), cited, superseded)
