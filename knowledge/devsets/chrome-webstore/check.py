#!/usr/bin/env python3
"""Mechanical checks for the chrome-webstore eval set.

- every gold path exists under corpus/
- every answer fact occurs in at least one of its gold pages after normalisation
  (lower-case; non letters/digits -> space; collapse spaces)
- unanswerable items: the distinctive words of the asked attribute (PROBES below) must not
  co-occur within a 60-word window in any corpus page; single-term hits are listed for reading
- ids unique across the four files; counts and type mix
"""
import collections
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, 'corpus')
WINDOW = 60  # words

# attribute probes for unanswerable items: every regex of a group must match within WINDOW words
PROBES = {
    'w51': [[r'refund', r'registration fee']],
    'w52': [[r'phone|telephone|call us|hotline', r'support|developer']],
    'w53': [[r'revenue|commission|transaction fee', r'share|percent|cut|keep']],
    'w54': [[r'gold|platinum|silver|tier|premium badge', r'badge']],
    'w55': [[r'\bmb\b|megabyte|gigabyte|size limit|maximum size|file size|max size', r'zip|package|upload']],
    'w56': [[r'trusted tester', r'maximum|\bmax\b|at most|up to \d+|no more than \d+']],
    'w57': [[r'weekend|saturday|sunday|time ?zone|business hours|\bpst\b|\butc\b|office hours', r'review']],
    'w58': [[r'cooldown|cool down|waiting period|wait \d+|must wait', r'resubmit|reject']],
    'w59': [[r'firefox|\bamo\b|addons mozilla|add ons mozilla']],
    'w60': [[r'microsoft|edge add ?ons|partner center']],
    'wh15': [[r'group publisher|google group', r'maximum|\bmax\b|at most|up to \d+|member limit|limit of \d+', r'member']],
    'wh16': [[r'nominat', r'\bdays?\b|\bweeks?\b|hear back|response time|reply']],
    'wh17': [[r'\bopera\b']],
}


def norm(s):
    return re.sub(r'\s+', ' ', re.sub(r'[^0-9a-z]+', ' ', s.lower())).strip()


def load_corpus():
    pages = {}
    for root, _, files in os.walk(CORPUS):
        for fn in files:
            if fn.endswith('.md'):
                p = os.path.join(root, fn)
                rel = os.path.relpath(p, CORPUS)
                with open(p, encoding='utf-8') as fh:
                    pages[rel] = norm(fh.read())
    return pages


def load(name):
    with open(os.path.join(HERE, name), encoding='utf-8') as fh:
        return [json.loads(l) for l in fh if l.strip()]


def window_hits(text, regexes):
    words = text.split()
    hits = []
    positions = []
    for rx in regexes:
        pos = set()
        for m in re.finditer(rx, text):
            pos.add(text.count(' ', 0, m.start()))
        positions.append(sorted(pos))
    if not all(positions):
        return hits
    for p0 in positions[0]:
        if all(any(abs(p - p0) <= WINDOW for p in ps) for ps in positions[1:]):
            hits.append(' '.join(words[max(0, p0 - 12):p0 + 12]))
    return hits


def main():
    pages = load_corpus()
    files = {'questions.jsonl': load('questions.jsonl'), 'heldout.jsonl': load('heldout.jsonl'),
             'followups.jsonl': load('followups.jsonl'), 'conversations.jsonl': load('conversations.jsonl')}
    errors = []
    ids = collections.Counter()
    for fname, rows in files.items():
        for r in rows:
            ids[r['id']] += 1
            gold, facts = r['gold_paths'], r['answer_facts']
            for g in gold:
                if g not in pages:
                    errors.append('%s %s: gold path missing: %s' % (fname, r['id'], g))
            for fct in facts:
                n = norm(fct)
                nw = len(n.split())
                if nw < 3 or nw > 25:
                    errors.append('%s %s: fact length %d words: %r' % (fname, r['id'], nw, fct))
                if not any(n in pages.get(g, '') for g in gold):
                    errors.append('%s %s: fact not in gold pages: %r' % (fname, r['id'], fct))
            if 'turns' in r:
                want = 2 if fname == 'followups.jsonl' else 3
                if len(r['turns']) != want:
                    errors.append('%s %s: %d turns' % (fname, r['id'], len(r['turns'])))
            if r.get('type') == 'unanswerable' or (('turns' in r) and not gold):
                if gold or facts:
                    errors.append('%s %s: unanswerable with gold/facts' % (fname, r['id']))
            elif not gold or not facts:
                errors.append('%s %s: answerable item without gold/facts' % (fname, r['id']))
    for i, c in ids.items():
        if c > 1:
            errors.append('duplicate id %s' % i)

    # unanswerable probes
    print('== unanswerable probes (co-occurrence within %d words) ==' % WINDOW)
    unans = [r for f in ('questions.jsonl', 'heldout.jsonl') for r in files[f] if r['type'] == 'unanswerable']
    for r in unans:
        groups = PROBES.get(r['id'])
        if not groups:
            errors.append('%s: no probe defined' % r['id'])
            continue
        for grp in groups:
            found = []
            for path, text in pages.items():
                for h in window_hits(text, grp):
                    found.append((path, h))
            single = {rx: sorted(p for p, t in pages.items() if re.search(rx, t)) for rx in grp}
            status = 'OK' if not found else 'REVIEW'
            print('%-5s %-6s %s' % (r['id'], status, ' + '.join(grp)))
            for rx, ps in single.items():
                print('        term %-40s in %d page(s)%s' % (rx[:40], len(ps), (': ' + ', '.join(ps[:4])) if ps else ''))
            for path, h in found[:6]:
                print('        co-occur %s: ...%s...' % (path, h))
            if found:
                REVIEWED = REVIEWED_OK.get(r['id'])
                if not REVIEWED:
                    errors.append('%s: probe terms co-occur; review by hand' % r['id'])

    # counts
    q, h = files['questions.jsonl'], files['heldout.jsonl']
    print('\n== counts ==')
    for fname, rows in files.items():
        print('%-20s %d' % (fname, len(rows)))
    for fname in ('questions.jsonl', 'heldout.jsonl'):
        c = collections.Counter(r['type'] for r in files[fname])
        print('%s types: %s' % (fname, ', '.join('%s=%d' % kv for kv in sorted(c.items()))))
    qc = collections.Counter(r['type'] for r in q)
    if len(q) < 52:
        errors.append('questions.jsonl has %d < 52 items' % len(q))
    if qc['unanswerable'] < 9:
        errors.append('questions.jsonl has %d < 9 unanswerable' % qc['unanswerable'])
    if len(h) != 17:
        errors.append('heldout.jsonl has %d != 17 items' % len(h))
    if collections.Counter(r['type'] for r in h)['unanswerable'] < 3:
        errors.append('heldout.jsonl has < 3 unanswerable')
    if len(files['followups.jsonl']) != 11:
        errors.append('followups.jsonl != 11')
    if len(files['conversations.jsonl']) != 12:
        errors.append('conversations.jsonl != 12')
    used = sorted({g for rows in files.values() for r in rows for g in r['gold_paths']})
    size = sum(os.path.getsize(os.path.join(CORPUS, p)) for p in pages)
    print('corpus: %d files, %d bytes; %d distinct gold pages used' % (len(pages), size, len(used)))
    print('\n== result ==')
    if errors:
        for e in errors:
            print('ERROR', e)
        print('%d error(s)' % len(errors))
        sys.exit(1)
    print('all checks passed')


# probes whose co-occurrence hits were read by hand and do not answer the question
REVIEWED_OK = {}

if __name__ == '__main__':
    main()
