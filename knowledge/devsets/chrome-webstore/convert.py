#!/usr/bin/env python3
"""Mechanical conversion of developer.chrome.com Eleventy/Nunjucks Markdown pages
(GoogleChrome/developer.chrome.com) to plain Markdown.

- Front matter is replaced by `title:` and `url:` only.
- Nunjucks shortcodes are unwrapped: Aside/Label/Column(s)/Details -> their inner text,
  DetailsSummary -> its inner text, Compare 'better'/'worse' -> "**Better:**"/"**Worse:**" prefix,
  Img -> ![alt](src), YouTube/Video -> link, Nunjucks comments and `{% if false %}` blocks
  (never rendered on the site) dropped.
- HTML tables -> Markdown tables; other inline HTML tags dropped or mapped to Markdown
  (strong/b -> **, code -> `, a -> [text](href), li -> "- ", sup -> ^, br -> line break).
- Kramdown heading attributes `{: #id }` dropped; HTML entities unescaped.
- The Program Policies landing page (index.njk) is rendered from its macro calls: the
  heading + paragraph arguments of each macro, the principle boxes, and the linked
  policy pages listed in its front matter (link text = the target page's title).
Code (fenced blocks and inline `code`) is left untouched.
No text is rewritten or added beyond the labels listed above.
"""
import html
import os
import re
import subprocess
import sys
from html.parser import HTMLParser

import yaml

GITDIR = '/work/.mirror/GoogleChrome+developer.chrome.com/repo'
COMMIT = '51dd7dd5d510ed85d86f5a91cb8fde50b62351c7'
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')
SITE = 'https://developer.chrome.com'

FILES = """
site/en/docs/webstore/program-policies/index.njk
site/en/docs/webstore/program-policies/accepting-payment/index.md
site/en/docs/webstore/program-policies/ads/index.md
site/en/docs/webstore/program-policies/affiliate-ads-faq/index.md
site/en/docs/webstore/program-policies/affiliate-ads/index.md
site/en/docs/webstore/program-policies/api-use/index.md
site/en/docs/webstore/program-policies/best-practices/index.md
site/en/docs/webstore/program-policies/chrome-apps/index.md
site/en/docs/webstore/program-policies/code-readability/index.md
site/en/docs/webstore/program-policies/data-handling/index.md
site/en/docs/webstore/program-policies/deceptive-installation-tactics-faq/index.md
site/en/docs/webstore/program-policies/deceptive-installation-tactics/index.md
site/en/docs/webstore/program-policies/disclosure-requirements/index.md
site/en/docs/webstore/program-policies/enforcement/index.md
site/en/docs/webstore/program-policies/explicit-material/index.md
site/en/docs/webstore/program-policies/featured-products/index.md
site/en/docs/webstore/program-policies/hate-and-violence/index.md
site/en/docs/webstore/program-policies/impersonation-and-intellectual-property/index.md
site/en/docs/webstore/program-policies/limited-use/index.md
site/en/docs/webstore/program-policies/listing-requirements/index.md
site/en/docs/webstore/program-policies/malicious-and-prohibited/index.md
site/en/docs/webstore/program-policies/minimum-functionality/index.md
site/en/docs/webstore/program-policies/mv3-requirements/index.md
site/en/docs/webstore/program-policies/notification-and-appeals/index.md
site/en/docs/webstore/program-policies/permissions/index.md
site/en/docs/webstore/program-policies/play_edu_tos/index.md
site/en/docs/webstore/program-policies/privacy/index.md
site/en/docs/webstore/program-policies/quality-guidelines-faq/index.md
site/en/docs/webstore/program-policies/quality-guidelines/index.md
site/en/docs/webstore/program-policies/regulated-goods-and-services/index.md
site/en/docs/webstore/program-policies/repeat-abuse/index.md
site/en/docs/webstore/program-policies/spam-and-abuse/index.md
site/en/docs/webstore/program-policies/spam-faq/index.md
site/en/docs/webstore/program-policies/terms/index.md
site/en/docs/webstore/program-policies/trader-disclosure/index.md
site/en/docs/webstore/program-policies/two-step-verification/index.md
site/en/docs/webstore/program-policies/unexpected-behavior/index.md
site/en/docs/webstore/program-policies/user-data-faq/index.md
site/en/docs/webstore/register/index.md
site/en/docs/webstore/set-up-account/index.md
site/en/docs/webstore/publish/index.md
site/en/docs/webstore/review-process/index.md
site/en/docs/webstore/check-review/index.md
site/en/docs/webstore/discovery/index.md
site/en/docs/webstore/account-deletion/index.md
site/en/docs/webstore/group-publishers/index.md
site/en/docs/webstore/cws-payments-deprecation/index.md
site/en/docs/webstore/cws-dashboard-privacy/index.md
site/en/docs/webstore/cws-dashboard-listing/index.md
site/en/docs/webstore/cws-dashboard-distribution/index.md
site/en/docs/webstore/troubleshooting/index.md
site/en/docs/webstore/update/index.md
site/en/docs/webstore/best_practices/index.md
site/en/docs/webstore/best_listing/index.md
site/en/docs/webstore/prepare/index.md
site/en/docs/webstore/images/index.md
site/en/docs/webstore/branding/index.md
site/en/docs/webstore/rating/index.md
site/en/docs/webstore/support-users/index.md
site/en/docs/webstore/metrics/index.md
site/en/docs/webstore/google-analytics/index.md
site/en/docs/webstore/using_webstore_api/index.md
site/en/docs/webstore/api_index/index.md
site/en/docs/webstore/cws-enterprise/index.md
site/en/docs/extensions/migrating/mv2-sunset/index.md
site/en/docs/extensions/migrating/publish-mv3/index.md
site/en/docs/extensions/mv3/hosting/index.md
site/en/docs/extensions/mv3/faq/index.md
site/en/docs/extensions/mv3/user_privacy/index.md
""".split()


def git_show(path):
    return subprocess.run(['git', '--git-dir', GITDIR, 'show', f'{COMMIT}:{path}'],
                          check=True, capture_output=True, text=True).stdout


def split_front_matter(text):
    m = re.match(r'^---\n(.*?)\n---\n?', text, re.S)
    if not m:
        return {}, text
    return yaml.safe_load(m.group(1)) or {}, text[m.end():]


def corpus_path(repo_path):
    p = repo_path[len('site/en/'):]
    p = re.sub(r'/index\.(md|njk)$', '', p)
    if p.endswith('program-policies'):
        return p + '/index.md'
    return p + '.md'


def page_url(repo_path):
    p = repo_path[len('site/en'):]
    p = re.sub(r'index\.(md|njk)$', '', p)
    return SITE + p


# ---------------------------------------------------------------- HTML tables
class TableParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.rows = []
        self.cell = None
        self.href = []
        self.in_li = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == 'tr':
            self.rows.append([])
        elif tag in ('td', 'th'):
            self.cell = []
        elif self.cell is None:
            return
        elif tag in ('strong', 'b'):
            self.cell.append('**')
        elif tag == 'code':
            self.cell.append('`')
        elif tag == 'a':
            self.href.append(a.get('href', ''))
            self.cell.append('[')
        elif tag in ('br', 'p', 'div'):
            self.cell.append(' ')
        elif tag == 'li':
            self.cell.append(' - ')
        elif tag == 'sup':
            self.cell.append('^')

    def handle_endtag(self, tag):
        if tag in ('td', 'th') and self.cell is not None:
            txt = ''.join(self.cell)
            txt = re.sub(r'\s+', ' ', txt).strip()
            txt = txt.replace('|', '\\|')
            if txt.startswith('- '):
                txt = txt[2:]
            self.rows[-1].append(txt)
            self.cell = None
        elif self.cell is None:
            return
        elif tag in ('strong', 'b'):
            self.cell.append('**')
        elif tag == 'code':
            self.cell.append('`')
        elif tag == 'a':
            self.cell.append('](%s)' % (self.href.pop() if self.href else ''))

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def table_to_md(html_table, indent=''):
    p = TableParser()
    p.feed(html_table)
    rows = [r for r in p.rows if r]
    if not rows:
        return ''
    n = max(len(r) for r in rows)
    rows = [r + [''] * (n - len(r)) for r in rows]
    out = ['| ' + ' | '.join(rows[0]) + ' |', '|' + ' --- |' * n]
    for r in rows[1:]:
        out.append('| ' + ' | '.join(r) + ' |')
    return '\n'.join(indent + line for line in out)


# ---------------------------------------------------------------- shortcodes
def attr(s, name):
    m = re.search(name + r'\s*=\s*"([^"]*)"', s, re.S) or re.search(name + r"\s*=\s*'([^']*)'", s, re.S)
    return m.group(1) if m else ''


def conv_img(m):
    s = m.group(1)
    alt = re.sub(r'\s+', ' ', attr(s, 'alt')).strip()
    return '![%s](%s)' % (alt, attr(s, 'src'))


def protect_code(text):
    store = []

    def keep(m):
        store.append(m.group(0))
        return '\x00%d\x00' % (len(store) - 1)
    text = re.sub(r'^([ \t]*)(```|~~~).*?^\1\2[ \t]*$', keep, text, flags=re.S | re.M)
    text = re.sub(r'`[^`\n]+`', keep, text)
    return text, store


def restore_code(text, store):
    return re.sub('\x00(\\d+)\x00', lambda m: store[int(m.group(1))], text)


def convert_body(body):
    body, store = protect_code(body)
    body = re.sub(r'\{#.*?#\}', '', body, flags=re.S)
    body = re.sub(r'<!--.*?-->', '', body, flags=re.S)
    body = re.sub(r'\{%-?\s*if false\s*-?%\}.*?\{%-?\s*endif\s*-?%\}\n?', '', body, flags=re.S)  # never rendered
    body = re.sub(r'\{%-?\s*Img\s+(.*?)-?%\}', conv_img, body, flags=re.S)
    body = re.sub(r'\{%-?\s*YouTube\s+(.*?)-?%\}',
                  lambda m: 'https://www.youtube.com/watch?v=' + (attr(m.group(1), 'id') or
                                                                  re.sub(r"['\"\s]", '', m.group(1))),
                  body, flags=re.S)
    body = re.sub(r'\{%-?\s*Video\s+(.*?)-?%\}', lambda m: attr(m.group(1), 'src'), body, flags=re.S)
    body = re.sub(r"\{%-?\s*Compare\s+['\"](better|worse)['\"][^%]*%\}\s*",
                  lambda m: '**%s:** ' % m.group(1).capitalize(), body)
    body = re.sub(r'\{%-?\s*(end)?(Aside|Label|Columns|Column|Details|DetailsSummary|Compare|CompareCaption)\b[^%]*%\}',
                  '', body)
    # HTML tables (possibly indented)
    body = re.sub(r'^([ \t]*)<table\b.*?</table>',
                  lambda m: table_to_md(m.group(0), m.group(1)), body, flags=re.S | re.M)
    # <figure> blocks: drop the wrapper and dedent their content (images and captions)
    body = re.sub(r'^[ \t]*<figure\b[^>]*>(.*?)</figure>',
                  lambda m: '\n'.join(l.strip() for l in
                                      re.sub(r'</?figcaption\b[^>]*>', '\n', m.group(1)).split('\n')),
                  body, flags=re.S | re.M)
    # remaining inline HTML
    body = re.sub(r'<(strong|b)>(.*?)</\1>', r'**\2**', body, flags=re.S)
    body = re.sub(r'<(em|i)>(.*?)</\1>', r'_\2_', body, flags=re.S)
    body = re.sub(r'<code>(.*?)</code>', r'`\1`', body, flags=re.S)
    body = re.sub(r'<sup>(.*?)</sup>', r'^\1', body, flags=re.S)
    body = re.sub(r'<a\s[^>]*href="([^"]*)"[^>]*>(.*?)</a>', r'[\2](\1)', body, flags=re.S)
    body = re.sub(r'<br\s*/?>', '\n', body)
    body = re.sub(r'^[ \t]*<li>(.*?)</li>', r'- \1', body, flags=re.M | re.S)
    body = re.sub(r'</?(div|figure|figcaption|span|p|ul|ol|li|section|var|aside)\b[^>]*>', '', body)
    # kramdown attribute lists
    body = re.sub(r'[ \t]*\{:[^}]*\}', '', body)
    body = html.unescape(body)
    body = restore_code(body, store)
    # tidy: trailing spaces on blank-only lines, >2 blank lines
    body = re.sub(r'^[ \t]+$', '', body, flags=re.M)
    body = re.sub(r'\n{3,}', '\n\n', body)
    return body.strip() + '\n'


# ---------------------------------------------------------------- landing page
def parse_args(argtext):
    """Split a Nunjucks macro argument list into python values (strings, names, numbers)."""
    toks = re.findall(r'"((?:[^"\\]|\\.)*)"|\'((?:[^\'\\]|\\.)*)\'|([A-Za-z_][\w.]*)|(-?\d+)', argtext, re.S)
    out = []
    for dq, sq, name, num in toks:
        if name:
            out.append(('name', name))
        elif num:
            out.append(('num', num))
        else:
            out.append(('str', dq if dq or not sq else sq))
    return out


def title_of(url):
    path = url.split('#')[0].strip('/')
    if path.startswith('webstore/'):
        path = 'docs/' + path
    for ext in ('index.md', 'index.njk'):
        try:
            fm, _ = split_front_matter(git_show('site/en/%s/%s' % (path, ext)))
            return fm.get('title', url)
        except subprocess.CalledProcessError:
            continue
    return url


def convert_landing(fm, body):
    sections = fm.get('sections', {})
    out = []
    body = re.sub(r'\{#.*?#\}', '', body, flags=re.S)
    pos = 0
    pattern = re.compile(r'\{\{\s*(heroCardWide|landingDeco|landingSectionExpanded|landingSection)\((.*?)\)\s*\}\}'
                         r'|\{%\s*for item in sections\.(\w+)\s*%\}', re.S)
    for m in pattern.finditer(body):
        if m.group(3):
            for item in sections.get(m.group(3), []):
                out.append('## %s\n\n%s\n' % (item['title'], item['description']))
            continue
        macro, args = m.group(1), parse_args(m.group(2))
        strs = [v for k, v in args if k == 'str']
        names = [v for k, v in args if k == 'name' and v.startswith('sections.')]
        level = '#' if macro == 'heroCardWide' else '##'
        out.append('%s %s\n\n%s\n' % (level, strs[0], strs[1]))
        for i, n in enumerate(names):
            items = sections.get(n.split('.', 1)[1], [])
            if i == 1:
                label = [v for k, v in args if k == 'str' and v == 'More documentation']
                if label:
                    out.append('%s:\n' % label[0])
            lines = []
            for it in items:
                t = it.get('title') or title_of(it['url'])
                lines.append('- [%s](%s)' % (t, it['url']))
            out.append('\n'.join(lines) + '\n')
    return '\n'.join(out)


def main():
    rows = []
    for rp in FILES:
        raw = git_show(rp)
        fm, body = split_front_matter(raw)
        if rp.endswith('.njk'):
            md = convert_landing(fm, body)
        else:
            md = convert_body(body)
        title = fm.get('title', '')
        head = '---\ntitle: %s\nurl: %s\n---\n\n' % (yaml.safe_dump(title, width=1000).strip().replace('\n...', ''),
                                                      page_url(rp))
        cp = corpus_path(rp)
        dst = os.path.join(OUT, cp)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(dst, 'w', encoding='utf-8') as f:
            f.write(head + md)
        rows.append((cp, rp, os.path.getsize(dst)))
    with open(os.path.join(os.path.dirname(OUT), 'files.tsv'), 'w') as f:
        for r in rows:
            f.write('%s\t%s\t%d\n' % r)
    print(len(rows), 'files', sum(r[2] for r in rows), 'bytes')


if __name__ == '__main__':
    main()
