#!/usr/bin/env python3
"""Mechanical conversion of github/docs Liquid-templated Markdown to plain Markdown.

Input : raw/content/**.md (verbatim copies of the source pages),
        raw/data/reusables/**.md, raw/data/variables/*.yml, raw/data/features/*.yml
Output: corpus/<path under content/>.md

Rules (no rewriting of text):
  * front matter -> only `title` and `url` (https://docs.github.com/en/<path>);
    the page title becomes an H1 and the page `intro` the first paragraph
    (that is how docs.github.com renders them)
  * {% data reusables.X %}  -> inlined file text (recursively); missing -> plain name
  * {% data variables.X.Y %} -> value from data/variables/X.yml; missing -> plain name
  * {% ifversion %}/{% elsif %}/{% else %}/{% endif %} and old-style {% if currentVersion ... %}
    -> keep the branch that applies to free-pro-team (fpt, i.e. GitHub.com);
    feature-flag names are looked up in data/features/<name>.yml (true if fpt listed)
  * {% note %} {% warning %} {% tip %} {% rowheaders %} {% octicon %} and their end tags -> dropped
  * HTML tags and comments -> dropped (inner text kept)
  * [AUTOTITLE](/path) -> title of the linked page when that page is in this corpus,
    otherwise left as AUTOTITLE
Index pages (index.md) are read only to resolve AUTOTITLE and are not written.
"""
import os
import re
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
RAW = os.path.join(HERE, 'raw')
OUT = os.path.join(HERE, 'corpus')
BASE_URL = 'https://docs.github.com/en'

_var_cache = {}
_feat_cache = {}
unresolved = set()


def load_vars(name):
    if name not in _var_cache:
        p = os.path.join(RAW, 'data', 'variables', name + '.yml')
        _var_cache[name] = yaml.safe_load(open(p, encoding='utf-8')) if os.path.exists(p) else {}
    return _var_cache[name]


def feature_on_fpt(name):
    if name not in _feat_cache:
        p = os.path.join(RAW, 'data', 'features', name + '.yml')
        if os.path.exists(p):
            d = yaml.safe_load(open(p, encoding='utf-8')) or {}
            _feat_cache[name] = 'fpt' in (d.get('versions') or {})
        else:
            unresolved.add('feature:' + name)
            _feat_cache[name] = False
    return _feat_cache[name]


# ---------------------------------------------------------------- conditions
def eval_operand(tok):
    tok = tok.strip()
    if tok.startswith('not '):
        return not eval_operand(tok[4:])
    m = re.match(r'^(fpt|ghec|ghes|ghae)\s*(?:(==|!=|>=|<=|>|<)\s*[\d.]+)?$', tok)
    if m:
        # free-pro-team: only the plain `fpt` operand is true; plans with a
        # version comparison are GHES/GHAE releases, never fpt
        return m.group(1) == 'fpt' and m.group(2) is None
    m = re.match(r'^currentVersion\s*==\s*"([^"]+)"$', tok)
    if m:
        return m.group(1) == 'free-pro-team@latest'
    if tok.startswith('currentVersion'):
        return False
    if re.match(r'^[A-Za-z0-9_-]+$', tok):
        return feature_on_fpt(tok)
    unresolved.add('condition:' + tok)
    return False


def eval_cond(expr):
    expr = expr.strip()
    return any(all(eval_operand(a) for a in re.split(r'\s+and\s+', part))
               for part in re.split(r'\s+or\s+', expr))


# ---------------------------------------------------------------- data tags
REUSABLE_RE = re.compile(r'\{%-?\s*data\s+reusables\.([\w./-]+)\s*-?%\}')
VARIABLE_RE = re.compile(r'\{%-?\s*data\s+variables\.([\w-]+)\.([\w-]+)\s*-?%\}')


def read_reusable(dotted):
    p = os.path.join(RAW, 'data', 'reusables', *dotted.split('.')) + '.md'
    if not os.path.exists(p):
        unresolved.add('reusables.' + dotted)
        return None
    return open(p, encoding='utf-8').read()


def expand_reusables(text, depth=0):
    if depth > 10:
        return text
    out_lines = []
    for line in text.split('\n'):
        m = REUSABLE_RE.search(line)
        if not m:
            out_lines.append(line)
            continue
        pieces = []
        pos = 0
        for m in REUSABLE_RE.finditer(line):
            before = line[pos:m.start()]
            pieces.append(before)
            body = read_reusable(m.group(1))
            if body is None:
                pieces.append('reusables.' + m.group(1))
            else:
                body = expand_reusables(body, depth + 1).rstrip('\n')
                prefix = line[:m.start()]
                if prefix.strip() == '':
                    cont = prefix
                elif prefix.lstrip().startswith('>'):
                    cont = prefix[:prefix.index('>') + 1] + ' '
                else:
                    cont = ' ' * len(prefix)
                blines = body.split('\n')
                body = '\n'.join([blines[0]] + [(cont + b) if b.strip() else '' for b in blines[1:]])
                pieces.append(body)
            pos = m.end()
        pieces.append(line[pos:])
        out_lines.append(''.join(pieces))
    return '\n'.join(out_lines)


def expand_variables(text, depth=0):
    def rep(m):
        d = load_vars(m.group(1))
        if m.group(2) in d and d[m.group(2)] is not None:
            v = str(d[m.group(2)])
            if depth < 5:
                v = expand_variables(v, depth + 1)
            return v
        unresolved.add('variables.%s.%s' % (m.group(1), m.group(2)))
        return 'variables.%s.%s' % (m.group(1), m.group(2))
    return VARIABLE_RE.sub(rep, text)


# ---------------------------------------------------------------- block tags
BLOCK_NAMES = r'(?:ifversion|elsif|else|endif|if|note|endnote|warning|endwarning|tip|endtip|rowheaders|endrowheaders|raw|endraw)'
TAG_ONLY_LINE = re.compile(r'(?m)^[ \t]*((?:\{%-?\s*' + BLOCK_NAMES + r'\b[^%]*?-?%\}[ \t]*)+)\n')
TAG_RE = re.compile(r'\{%-?\s*(\w+)\s*(.*?)\s*-?%\}', re.S)


OCTICON_RE = re.compile(r'\{%-?\s*octicon\b[^%]*?-?%\} ?')


def eval_conditionals(text):
    text = OCTICON_RE.sub('', text)  # icon markup: dropped with the space after it
    text = TAG_ONLY_LINE.sub(lambda m: m.group(1).strip(), text)
    out = []
    # stack entries: [parent_active, branch_taken, current_active]
    stack = []
    active = True
    pos = 0
    for m in TAG_RE.finditer(text):
        if active:
            out.append(text[pos:m.start()])
        pos = m.end()
        name, arg = m.group(1), m.group(2)
        if name in ('ifversion', 'if'):
            c = eval_cond(arg) if active else False
            stack.append([active, c])
            active = active and c
        elif name == 'elsif':
            parent, taken = stack[-1]
            c = (not taken) and parent and eval_cond(arg)
            if c:
                stack[-1][1] = True
            active = c
        elif name == 'else':
            parent, taken = stack[-1]
            active = parent and not taken
            stack[-1][1] = True
        elif name == 'endif':
            parent, _ = stack.pop()
            active = parent
        elif name in ('note', 'endnote', 'warning', 'endwarning', 'tip', 'endtip',
                      'rowheaders', 'endrowheaders', 'octicon', 'raw', 'endraw'):
            pass  # markup only: dropped
        else:
            if active:
                unresolved.add('tag:' + name)
                out.append(m.group(0))
    if active:
        out.append(text[pos:])
    if stack:
        raise ValueError('unbalanced ifversion')
    return ''.join(out)


def render_liquid(text):
    text = expand_reusables(text)
    text = expand_variables(text)
    text = eval_conditionals(text)
    return text


# ---------------------------------------------------------------- html + links
def strip_html(text):
    text = re.sub(r'<!--.*?-->', '', text, flags=re.S)
    # keep inner text of tags; drop the tags themselves (outside code fences)
    parts = re.split(r'(```.*?```)', text, flags=re.S)
    for i in range(0, len(parts), 2):
        parts[i] = re.sub(r'</?(?:a|br|em|code|strong|span|div|p)\b[^>]*?/?>', '', parts[i])
    return ''.join(parts)


def tidy(text):
    lines = [l if l.strip() else '' for l in text.split('\n')]
    text = '\n'.join(lines)
    text = re.sub(r'\n{3,}', '\n\n', text)
    return text.strip('\n') + '\n'


def split_front_matter(src):
    m = re.match(r'^---\n(.*?)\n---\n?(.*)$', src, re.S)
    if not m:
        raise ValueError('no front matter')
    return yaml.safe_load(m.group(1)), m.group(2)


def main():
    pages = []
    for root, _, files in os.walk(os.path.join(RAW, 'content')):
        for f in files:
            if f.endswith('.md'):
                pages.append(os.path.relpath(os.path.join(root, f), RAW))
    pages.sort()
    titles = {}
    parsed = {}
    for rel in pages:
        fm, body = split_front_matter(open(os.path.join(RAW, rel), encoding='utf-8').read())
        parsed[rel] = (fm, body)
        urlpath = '/' + rel[len('content/'):-len('.md')]
        if urlpath.endswith('/index'):
            urlpath = urlpath[:-len('/index')]
        title = render_liquid(fm['title']).strip()
        for p in [urlpath] + list(fm.get('redirect_from') or []):
            titles[p.rstrip('/')] = title

    def autotitle(m):
        target = m.group(1)
        key = target.split('#')[0].rstrip('/')
        if key.startswith('/free-pro-team@latest'):
            key = key[len('/free-pro-team@latest'):]
        t = titles.get(key)
        return '[%s](%s)' % (t if t else 'AUTOTITLE', target)

    written = 0
    for rel in pages:
        if rel.endswith('/index.md'):
            continue
        fm, body = parsed[rel]
        title = render_liquid(fm['title']).strip()
        intro = render_liquid(str(fm.get('intro') or '')).strip()
        urlpath = rel[len('content/'):-len('.md')]
        text = render_liquid(body)
        text = re.sub(r'\[AUTOTITLE\]\(([^)\s]+)\)', autotitle, text)
        intro = re.sub(r'\[AUTOTITLE\]\(([^)\s]+)\)', autotitle, intro)
        text = strip_html(text)
        head = '---\ntitle: %s\nurl: %s/%s\n---\n\n# %s\n\n' % (
            yaml.safe_dump(title, default_flow_style=True, width=10000).strip().removesuffix('...').strip(),
            BASE_URL, urlpath, title)
        if intro:
            head += intro + '\n\n'
        out = tidy(head + text)
        if '{%' in out:
            print('WARNING leftover liquid in', rel, file=sys.stderr)
        dest = os.path.join(OUT, rel[len('content/'):])
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        open(dest, 'w', encoding='utf-8').write(out)
        written += 1
    print('wrote %d files' % written)
    for u in sorted(unresolved):
        print('unresolved (left as plain name):', u)


if __name__ == '__main__':
    main()
