#!/usr/bin/env python3
"""Mechanical MDX/Docusaurus -> plain Markdown conversion for the grafana-plugins corpus.

Reads each path listed in files.txt from the bare git mirror at COMMIT and writes
corpus/<same relative path>.md.  Rules (applied outside fenced code blocks only):
  * YAML front matter is replaced by `title:` + `url:` (published address
    https://grafana.com/developers/plugin-tools/<dir>/<id>, category index files -> <dir>/,
    `slug:` wins when present).  Files outside docusaurus/docs get no url.
  * `import X from '@shared/...md'` / '@snippets/...md' lines are dropped; a line consisting
    only of `<X />` (or `<X prop="v" />`) is replaced by the (converted) text of that partial,
    with `{props.name}` replaced by the prop value.  This is what the published page shows.
  * `<CodeSnippets snippets={[...]} />` -> the snippet labelled 'npm' (the default tab).
  * `<SyncCommand cmd="X" />` -> `npm X` in backticks (what the component renders server side).
  * other site components (DocLinkList, DocCardList, SignupForm, YouTubeEmbed) are dropped.
  * admonitions `:::note` / `:::info[Title]` -> a bold label line; closing `:::` dropped.
  * `<details>`/`</details>` dropped, `<summary><h3>X</h3></summary>` -> `### X`.
  * `<a name=...></a>` anchors dropped, `<br/>` -> space.
  * code fence info strings reduced to the language (`shell npm2yarn` -> `shell`).
  * handlebars `{{ helper name }}` -> `name`; HTML comment markers `<!--` `-->` removed
    (the README template keeps all of its guidance inside comments).
Plain Markdown files without any of this markup (packages/.../_partials) are copied unchanged.
"""
import os
import re
import subprocess
import sys

GITDIR = '/work/.mirror/grafana+plugin-tools/repo'
COMMIT = '7b1f4fddd3d4d8ac4719e13ee30394a4cff54e45'
BASE_URL = 'https://grafana.com/developers/plugin-tools/'
HERE = os.path.dirname(os.path.abspath(__file__))
DOCS = 'docusaurus/docs/'
DROP_COMPONENTS = {'DocLinkList', 'DocCardList', 'SignupForm', 'YouTubeEmbed'}
UNCHANGED = {'packages/create-plugin/templates/_partials/distributing-your-plugin.md'}


def git_show(path):
    return subprocess.run(['git', '--git-dir', GITDIR, 'show', f'{COMMIT}:{path}'],
                          check=True, capture_output=True).stdout.decode('utf-8')


def split_front_matter(text):
    if text.startswith('---\n'):
        end = text.find('\n---', 4)
        if end != -1:
            fm = text[4:end]
            rest = text[end + 4:]
            rest = rest[1:] if rest.startswith('\n') else rest
            meta = {}
            for line in fm.splitlines():
                m = re.match(r'^(\w+):\s*(.*?)\s*$', line)
                if m and m.group(2):
                    meta[m.group(1)] = m.group(2).strip('\'"')
            return meta, rest
    return {}, text


def published_url(path, meta):
    if not path.startswith(DOCS):
        return None
    rel = path[len(DOCS):]
    d = os.path.dirname(rel)
    stem = os.path.splitext(os.path.basename(rel))[0]
    if meta.get('slug'):
        slug = meta['slug']
        if slug.startswith('/'):
            return BASE_URL + slug.lstrip('/')
        return BASE_URL + (d + '/' if d else '') + slug
    if stem == 'index':
        return BASE_URL + (d + '/' if d else '')
    return BASE_URL + (d + '/' if d else '') + meta.get('id', stem)


def resolve_import(spec, src_path):
    if spec.startswith('@shared/'):
        return DOCS + 'shared/' + spec[len('@shared/'):]
    if spec.startswith('@snippets/'):
        return DOCS + 'snippets/' + spec[len('@snippets/'):]
    return None


def parse_props(s):
    return dict(re.findall(r'(\w+)="([^"]*)"', s))


def convert_body(text, src_path, props=None):
    props = props or {}
    lines = text.split('\n')
    imports = {}
    # collect imports (outside code)
    in_code = False
    for line in lines:
        if re.match(r'^\s*(```|~~~)', line):
            in_code = not in_code
            continue
        m = None if in_code else re.match(r"^import\s+(\w+)\s+from\s+'([^']+)';?\s*$", line)
        if m:
            imports[m.group(1)] = m.group(2)
    out = []
    in_code = False
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = re.match(r'^(\s*)(```|~~~)(.*)$', line)
        if fence:
            if not in_code:
                info = fence.group(3).strip()
                lang = info.split()[0] if info else ''
                out.append(fence.group(1) + fence.group(2) + lang)
            else:
                out.append(line)
            in_code = not in_code
            i += 1
            continue
        if in_code:
            out.append(line.replace('{props.pluginType}', props.get('pluginType', 'pluginType')))
            i += 1
            continue
        stripped = line.strip()
        indent = line[:len(line) - len(line.lstrip())]
        # import lines
        if re.match(r"^import\s+.+\s+from\s+'[^']+';?\s*$", stripped):
            i += 1
            continue
        # multi-line CodeSnippets component
        if stripped.startswith('<CodeSnippets'):
            block = [stripped]
            while not block[-1].endswith('/>'):
                i += 1
                block.append(lines[i].strip())
            blob = ' '.join(block)
            m = re.search(r"\{\s*component:\s*(\w+),\s*label:\s*'npm'\s*\}", blob)
            if m and m.group(1) in imports:
                target = resolve_import(imports[m.group(1)], src_path)
                out.extend(convert_body(git_show(target), target).rstrip('\n').split('\n'))
            i += 1
            continue
        # self-closing component on its own line
        m = re.match(r'^<([A-Z]\w*)((?:\s+\w+="[^"]*")*)\s*/>$', stripped)
        if m:
            name, attrs = m.group(1), m.group(2)
            if name in imports and resolve_import(imports[name], src_path):
                target = resolve_import(imports[name], src_path)
                body = convert_body(git_show(target), target, parse_props(attrs))
                for bl in body.rstrip('\n').split('\n'):
                    out.append((indent + bl) if bl else '')
            elif name in DROP_COMPONENTS or name in imports:
                pass
            else:
                sys.exit(f'unknown component {name} in {src_path}')
            i += 1
            continue
        if re.match(r'^<YouTubeEmbed\b.*/>$', stripped):
            i += 1
            continue
        # admonitions
        m = re.match(r'^:::(\w+)(?:\[(.*)\])?\s*(.*)$', stripped)
        if m:
            label = m.group(1).capitalize()
            title = m.group(2) or m.group(3)
            out.append(indent + (f'**{label}: {title}**' if title else f'**{label}:**'))
            i += 1
            continue
        if stripped == ':::':
            i += 1
            continue
        # details / summary
        if stripped in ('<details>', '</details>'):
            i += 1
            continue
        m = re.match(r'^<summary>\s*<h(\d)>(.*?)</h\d>\s*</summary>$', stripped)
        if m:
            out.append('#' * int(m.group(1)) + ' ' + m.group(2).strip())
            i += 1
            continue
        # inline replacements
        line = re.sub(r'<SyncCommand cmd="([^"]*)"\s*/>', r'`npm \1`', line)
        line = re.sub(r'<a name="[^"]*"></a>', '', line)
        line = re.sub(r'<br\s*/?>', ' ', line)
        line = re.sub(r'\{props\.(\w+)\}', lambda mm: props.get(mm.group(1), mm.group(1)), line)
        line = re.sub(r'\{\{\s*(?:\w+\s+)?(\w+)\s*\}\}', r'\1', line)
        line = line.replace('<!-- ', '').replace('<!--', '').replace(' -->', '').replace('-->', '')
        out.append(line)
        i += 1
    text = '\n'.join(out)
    text = re.sub(r'\n{3,}', '\n\n', text)
    return text


def convert(path):
    raw = git_show(path)
    if path in UNCHANGED:
        return raw
    meta, body = split_front_matter(raw)
    body = convert_body(body, path)
    head = []
    if meta.get('title'):
        head.append('title: ' + ('"%s"' % meta['title'].replace('"', '\\"')))
    url = published_url(path, meta)
    if url:
        head.append('url: ' + url)
    fm = ('---\n' + '\n'.join(head) + '\n---\n\n') if head else ''
    return fm + body.lstrip('\n').rstrip() + '\n'


def out_path(path):
    base, ext = os.path.splitext(path)
    if base.startswith(DOCS):
        base = base[len(DOCS):]
    return os.path.join(HERE, 'corpus', base + '.md')


def main():
    paths = [p.strip() for p in open(os.path.join(HERE, 'files.txt')) if p.strip()]
    for p in paths:
        dst = out_path(p)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(dst, 'w', encoding='utf-8') as f:
            f.write(convert(p))
        print(os.path.relpath(dst, HERE))


if __name__ == '__main__':
    main()
