#!/usr/bin/env python3
"""Mechanical checks for the grafana-plugins eval set."""
import collections
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, 'corpus')
TYPES = {'factoid', 'requirement', 'change', 'comparison', 'shorthand', 'multi', 'yesno', 'list',
         'number', 'procedure', 'unanswerable'}

# Distinctive words of the asked attribute for each unanswerable item. Each inner list is a
# group of alternatives (word-boundary regex on the normalised text); a page is a hit when
# every group matches somewhere in it.  Hits are printed and must be read by hand.
UNANSWERABLE_TERMS = {
    'p52': [['revenue', 'commission', 'percent', 'cut', 'share of'], ['marketplace']],
    'p53': [['subscription'], ['price', 'cost', 'usd', 'per year', 'annual', 'per month', r'\d+ dollars']],
    'p54': [['phone', 'telephone', 'call us']],
    'p55': [['zip', 'archive'], ['max', 'maximum', 'limit', 'at most'], ['size', 'mb', 'gb']],
    'p56': [['deprecat', 'delist'], ['notice', 'days', 'weeks', 'months in advance', 'grace']],
    'p57': [['minimum', 'at least', 'threshold'], ['installs', 'downloads']],
    'p58': [['refund', 'money back', 'chargeback']],
    'p59': [['review'], ['rounds', 'attempts', 'resubmission limit', 'strikes']],
    'p60': [['atlassian', 'jira']],
    'p61': [['datadog']],
    'ph15': [['screenshot'], ['resolution', 'pixel', 'px', 'dimensions'], [r'\d+ ?x ?\d+', 'max', 'maximum', 'at most']],
    'ph16': [['gold', 'platinum', 'silver', 'partner tier', 'premier']],
    'ph17': [['shopify', 'app store']],
}


def norm(s):
    s = s.lower()
    s = re.sub(r'[^0-9a-z]+', ' ', s)  # anything that is not a letter or digit -> space
    return re.sub(r'\s+', ' ', s).strip()




def load(name):
    rows = []
    with open(os.path.join(HERE, name), encoding='utf-8') as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows


def main():
    pages = {}
    for root, _, files in os.walk(CORPUS):
        for fn in files:
            if fn.endswith('.md'):
                p = os.path.join(root, fn)
                pages[os.path.relpath(p, CORPUS)] = open(p, encoding='utf-8').read()
    npages = {k: norm(v) for k, v in pages.items()}
    errors = []
    files = {'questions.jsonl': load('questions.jsonl'), 'heldout.jsonl': load('heldout.jsonl'),
             'followups.jsonl': load('followups.jsonl'), 'conversations.jsonl': load('conversations.jsonl')}
    ids = collections.Counter()
    n_facts = 0
    for fname, rows in files.items():
        for r in rows:
            ids[r['id']] += 1
            gold, facts = r['gold_paths'], r['answer_facts']
            if 'turns' in r:
                want = 2 if fname == 'followups.jsonl' else 3
                if len(r['turns']) != want:
                    errors.append(f"{r['id']}: expected {want} turns")
            else:
                if r.get('type') not in TYPES:
                    errors.append(f"{r['id']}: bad type {r.get('type')}")
            unans = r.get('type') == 'unanswerable'
            if unans and (gold or facts):
                errors.append(f"{r['id']}: unanswerable item must have empty gold/facts")
            if not unans and (not gold or not facts):
                errors.append(f"{r['id']}: answerable item needs gold and facts")
            if len(facts) > 3:
                errors.append(f"{r['id']}: more than 3 facts")
            for g in gold:
                if g not in pages:
                    errors.append(f"{r['id']}: gold path missing: {g}")
            for fact in facts:
                n_facts += 1
                nf = norm(fact)
                words = len(nf.split())
                if not any(nf in npages.get(g, '') for g in gold):
                    errors.append(f"{r['id']}: fact not in gold pages: {fact!r}")
                if words > 25:
                    errors.append(f"{r['id']}: fact too long ({words} words): {fact!r}")
    for i, c in ids.items():
        if c > 1:
            errors.append(f'duplicate id {i}')
    # counts
    q, h, fu, cv = (files[k] for k in ('questions.jsonl', 'heldout.jsonl', 'followups.jsonl', 'conversations.jsonl'))
    qt = collections.Counter(r['type'] for r in q)
    ht = collections.Counter(r['type'] for r in h)
    if len(q) < 52:
        errors.append('questions.jsonl needs >= 52 items')
    if qt['unanswerable'] < 9:
        errors.append('questions.jsonl needs >= 9 unanswerable')
    if len(h) != 17 or ht['unanswerable'] != 3:
        errors.append('heldout.jsonl needs 17 items incl. 3 unanswerable')
    if len(fu) != 11:
        errors.append('followups.jsonl needs 11 items')
    if len(cv) != 12:
        errors.append('conversations.jsonl needs 12 items')
    # unanswerable term search
    print('Unanswerable term search (pages where every term group matches; read by hand):')
    for rows in (q, h):
        for r in rows:
            if r['type'] != 'unanswerable':
                continue
            groups = UNANSWERABLE_TERMS.get(r['id'])
            if not groups:
                errors.append(f"{r['id']}: no term list for unanswerable check")
                continue
            hits = []
            for path, text in npages.items():
                if all(any(re.search(r'\b' + norm(t) if not t.startswith('\\') else t, text) for t in grp)
                       for grp in groups):
                    hits.append(path)
            print(f"  {r['id']}: {', '.join(hits) if hits else 'no page'}")
    print()
    print(f'corpus pages: {len(pages)}, bytes: {sum(len(v.encode("utf-8")) for v in pages.values())}')
    print(f'questions.jsonl: {len(q)} {dict(sorted(qt.items()))}')
    print(f'heldout.jsonl: {len(h)} {dict(sorted(ht.items()))}')
    print(f'followups.jsonl: {len(fu)}; conversations.jsonl: {len(cv)}')
    print(f'ids: {len(ids)} unique of {sum(ids.values())}; answer facts checked: {n_facts}')
    if errors:
        print(f'\n{len(errors)} ERROR(S):')
        for e in errors:
            print('  ' + e)
        sys.exit(1)
    print('ALL CHECKS PASSED')


if __name__ == '__main__':
    main()
