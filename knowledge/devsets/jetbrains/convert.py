#!/usr/bin/env python3
"""Mechanical converter: Writerside .topic XML -> plain Markdown.

Usage: convert.py SRC_TOPICS_DIR OUT_DIR [relpath ...]

Rules (no text is rewritten or added):
  * <topic title=..>            -> "# title" (+ YAML front matter with title and published url)
  * <chapter title=..>          -> "##"/"###"... heading by nesting depth
  * <p>                         -> paragraph (whitespace collapsed)
  * <list> / <li>               -> "- " items ("1. " when type="decimal"), nested lists indented
  * <procedure title=..>/<step> -> bold title line + numbered list
  * <deflist>/<def title=..>    -> bold title line + its text
  * <tabs>/<tab title=..>       -> bold title line + its content
  * <table>/<tr>/<td>           -> Markdown table (first row used as header row, short rows padded)
  * <note>/<tip>/<warning>      -> blockquote
  * <code-block lang=..>        -> fenced code block (content verbatim)
  * <control>, <b>, <path>, <ui-path> -> **bold**; <emphasis>, <u> -> *italic*; <code> -> `code`
  * <a href=..>text</a>         -> [text](href); links to other topics resolved to the published
                                   page address; an empty <a/> gets the target topic's title
  * <img>, <seealso>, <iframe>, <script> -> dropped
  * any other tag               -> tag dropped, text kept
Markdown sources (.md) are copied unmodified.
"""
import os
import re
import sys
import xml.etree.ElementTree as ET

BASE_URL = "https://plugins.jetbrains.com/docs/marketplace/"

BLOCK = {"p", "list", "li", "chapter", "table", "tr", "td", "note", "tip", "warning",
         "code-block", "procedure", "step", "deflist", "def", "tabs", "tab", "img",
         "seealso", "title", "spotlight", "primary", "secondary", "misc", "cards", "links",
         "group", "section-starting-page", "category", "resource", "res"}
DROP = {"img", "seealso", "iframe", "script"}

TITLES = {}  # "file.topic" / "file.md" -> (id, title)


def ws(s):
    return re.sub(r"\s+", " ", s or "")


def ws_block(s):
    """Whitespace collapse for text sitting directly in a block container: a blank line
    (raw Markdown written inside the XML) is kept as a paragraph break."""
    s = re.sub(r"[ \t]*\n[ \t]*\n\s*", "\x00", s or "")
    return re.sub(r"\s+", " ", s).replace("\x00", "\n\n")


def link_target(href):
    if not href:
        return href
    m = re.match(r"^([A-Za-z0-9_.-]+)\.(topic|md)(#.*)?$", href)
    if m:
        key = m.group(1) + "." + m.group(2)
        tid = TITLES.get(key, (m.group(1), None))[0]
        return BASE_URL + tid + ".html" + (m.group(3) or "")
    return href


def link_title(href):
    m = re.match(r"^([A-Za-z0-9_.-]+)\.(topic|md)(#.*)?$", href or "")
    if m:
        key = m.group(1) + "." + m.group(2)
        if key in TITLES and TITLES[key][1]:
            return TITLES[key][1]
    return href


def inline(el):
    """Render an element's inline content (text + inline children + tails)."""
    out = [ws(el.text)]
    for ch in el:
        out.append(inline_el(ch))
        out.append(ws(ch.tail))
    return re.sub(r" {2,}", " ", "".join(out))


def wrap(s, mark):
    core = s.strip()
    if not core:
        return s
    lead = " " if s[:1] == " " else ""
    trail = " " if s[-1:] == " " else ""
    return lead + mark + core + mark + trail


def inline_el(el):
    tag = el.tag
    if tag in DROP:
        return ""
    if tag == "a":
        href = el.get("href", "")
        text = inline(el)
        core = text.strip() or link_title(href)
        lead = " " if text[:1] == " " else ""
        trail = " " if text[-1:] == " " else ""
        if href.startswith("mailto:") and core == href[7:]:
            return lead + core + trail
        return lead + "[" + core + "](" + link_target(href) + ")" + trail
    if tag in ("control", "b", "path", "ui-path"):
        return wrap(inline(el), "**")
    if tag in ("emphasis", "u", "i"):
        return wrap(inline(el), "*")
    if tag == "code":
        t = ws("".join(el.itertext()))
        return wrap(t, "`")
    if tag in BLOCK:
        # block element inside inline context: flatten its text
        return " " + " ".join(b for b in blocks(el, 9) if b) + " "
    return inline(el)


def indent(text, pad):
    return "\n".join((pad + l) if l.strip() else l for l in text.split("\n"))


def render_list(el, depth, ordered=None):
    if ordered is None:
        ordered = el.get("type") == "decimal"
    items = []
    n = 0
    for ch in el:
        if ch.tag not in ("li", "step"):
            continue
        n += 1
        bullet = f"{n}. " if ordered else "- "
        body = "\n\n".join(b for b in blocks(ch, depth) if b.strip())
        pad = " " * len(bullet)
        lines = indent(body, pad)
        items.append(bullet + lines[len(pad):] if lines.startswith(pad) else bullet + lines)
    return "\n".join(items) if all("\n\n" not in i for i in items) else "\n\n".join(items)


def cell_text(td):
    parts = [b for b in blocks(td, 9) if b.strip()]
    t = " ".join(ws(p) for p in parts).strip()
    return t.replace("|", "\\|")


def render_table(el):
    rows = []
    for tr in el.iter("tr"):
        rows.append([cell_text(td) for td in tr if td.tag in ("td", "th")])
    if not rows:
        return ""
    ncol = max(len(r) for r in rows)
    rows = [r + [""] * (ncol - len(r)) for r in rows]
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * ncol]
    for r in rows[1:]:
        out.append("| " + " | ".join(r) + " |")
    return "\n".join(out)


def code_block(el):
    lang = el.get("lang", "")
    text = "".join(el.itertext())
    # dedent
    lines = text.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    pads = [len(l) - len(l.lstrip()) for l in lines if l.strip()]
    m = min(pads) if pads else 0
    body = "\n".join(l[m:] for l in lines)
    return f"```{lang}\n{body}\n```"


def blocks(el, depth):
    """Render an element's content as a list of Markdown blocks."""
    out = []
    buf = [ws_block(el.text)]

    def flush():
        t = re.sub(r" {2,}", " ", "".join(buf)).strip()
        for para in t.split("\n\n"):
            para = para.strip()
            if para:
                out.append(para)
        buf.clear()

    for ch in el:
        tag = ch.tag
        if tag in DROP:
            buf.append(ws_block(ch.tail))
            continue
        if tag in BLOCK:
            flush()
            out.extend(block_el(ch, depth))
            buf.append(ws_block(ch.tail))
        else:
            buf.append(inline_el(ch))
            buf.append(ws_block(ch.tail))
    flush()
    return out


def block_el(el, depth):
    tag = el.tag
    if tag == "p":
        t = inline(el).strip()
        return [t] if t else []
    if tag == "chapter":
        h = "#" * min(depth + 1, 6) + " " + ws(el.get("title", "")).strip()
        return [h] + blocks(el, depth + 1)
    if tag == "list":
        return [render_list(el, depth)]
    if tag == "procedure":
        res = []
        if el.get("title"):
            res.append("**" + ws(el.get("title")).strip() + "**")
        intro = [c for c in el if c.tag != "step"]
        if intro or (el.text and el.text.strip()):
            tmp = ET.Element("x")
            tmp.text = el.text
            for c in intro:
                tmp.append(c)
            res.extend(blocks(tmp, depth))
        res.append(render_list(el, depth, ordered=True))
        return res
    if tag in ("deflist", "tabs"):
        return blocks(el, depth)
    if tag in ("def", "tab"):
        res = []
        if el.get("title"):
            res.append("**" + ws(el.get("title")).strip() + "**")
        return res + blocks(el, depth)
    if tag == "table":
        return [render_table(el)]
    if tag in ("note", "tip", "warning"):
        inner = "\n\n".join(b for b in blocks(el, depth) if b.strip())
        return ["\n".join("> " + l if l else ">" for l in inner.split("\n"))]
    if tag == "code-block":
        return [code_block(el)]
    if tag == "title":
        t = inline(el).strip()
        return ["**" + t + "**"] if t else []
    return blocks(el, depth)


def convert(path):
    src = open(path, encoding="utf-8").read()
    src = re.sub(r"<!DOCTYPE[^>]*>", "", src, count=1)
    root = ET.fromstring(src.encode("utf-8"))
    title = ws(root.get("title", "")).strip()
    tid = root.get("id")
    body = blocks(root, 1)
    md = "---\n"
    md += "title: \"" + title.replace('"', '\\"') + "\"\n"
    md += "url: " + BASE_URL + tid + ".html\n"
    md += "---\n\n# " + title + "\n\n" + "\n\n".join(b for b in body if b.strip()) + "\n"
    return md


def index_titles(src_dir):
    for dp, _, fns in os.walk(src_dir):
        for fn in fns:
            p = os.path.join(dp, fn)
            if fn.endswith(".topic"):
                s = open(p, encoding="utf-8").read()
                m = re.search(r'<topic\b[^>]*>', s, re.S)
                tt = re.search(r'\btitle="([^"]*)"', m.group(0)) if m else None
                ti = re.search(r'\bid="([^"]*)"', m.group(0)) if m else None
                TITLES[fn] = (ti.group(1) if ti else fn[:-6], tt.group(1) if tt else None)
            elif fn.endswith(".md"):
                s = open(p, encoding="utf-8").read()
                tt = re.match(r"\[//\]: # \(title: (.*)\)", s)
                TITLES[fn] = (fn[:-3], tt.group(1) if tt else None)


def main():
    src_dir, out_dir = sys.argv[1], sys.argv[2]
    rels = sys.argv[3:]
    index_titles(src_dir)
    if not rels:
        for dp, _, fns in os.walk(src_dir):
            for fn in fns:
                if fn.endswith((".topic", ".md")):
                    rels.append(os.path.relpath(os.path.join(dp, fn), src_dir))
    for rel in sorted(rels):
        sp = os.path.join(src_dir, rel)
        if rel.endswith(".md"):
            dst = os.path.join(out_dir, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(sp, "rb") as f, open(dst, "wb") as g:
                g.write(f.read())
        else:
            dst = os.path.join(out_dir, rel[:-6] + ".md")
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, "w", encoding="utf-8") as g:
                g.write(convert(sp))
        print(rel, "->", os.path.relpath(dst, out_dir))


if __name__ == "__main__":
    main()
