#!/usr/bin/env python3
"""Mechanical checks for the github-marketplace eval set (see BRIEF section 3)."""
import collections
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, 'corpus')

# distinctive words of the asked attribute for each unanswerable item; the item
# fails if any single corpus page contains ALL words of any one of its groups
# (whole-word match on the normalised text). Hits of single words were also
# read by hand (see SOURCE.md).
UNANSWERABLE_PROBES = {
    'g52': [['phone number'], ['onboarding', 'phone'], ['telephone']],
    'g53': [['business days'], ['review', 'days to'], ['review', 'within', 'days', 'submit for review', 'sla']],
    'g54': [['listing fee'], ['publishing fee'], ['one-time fee'], ['setup fee']],
    'g55': [['utc'], ['time of day'], ['payout', 'a.m.'], ['payment', 'o\'clock']],
    'g56': [['maximum price'], ['max price'], ['price limit'], ['highest price']],
    'g57': [['gold'], ['premier'], ['partner tier'], ['platinum']],
    'g58': [['paypal'], ['wire transfer'], ['stripe'], ['bank transfer']],
    'g59': [['bounty'], ['reward'], ['pay', 'per token']],
    'g60': [['atlassian']],
    'g61': [['regular expressions per'], ['maximum number of regular'], ['number of regular expressions'], ['regex limit']],
    'g62': [['vat'], ['sales tax'], [' tax ']],
    'g63': [['jetbrains'], ['plugin']],
    'gh15': [['deadline'], ['featured', 'apply'], ['featured slot'], ['featured', 'nominate']],
    'gh16': [['partner program', 'fee'], ['secret scanning', 'cost'], ['annual fee'], ['secret scanning', 'price']],
    'gh17': [['shopify']],
    'gc12': [['phone number'], ['telephone'], ['support line'], ['hotline']],
}

EXPECTED = {'questions.jsonl': 52, 'heldout.jsonl': 17, 'followups.jsonl': 11, 'conversations.jsonl': 12}


def norm(s):
    s = s.lower()
    s = re.sub(r'[^0-9a-z]+', ' ', s)  # str.isalnum is unicode; keep to ascii letters/digits
    return re.sub(r'\s+', ' ', s).strip()


def main():
    pages = {}
    for root, _, files in os.walk(CORPUS):
        for f in files:
            if f.endswith('.md'):
                rel = os.path.relpath(os.path.join(root, f), CORPUS)
                pages[rel] = open(os.path.join(root, f), encoding='utf-8').read()
    npages = {k: norm(v) for k, v in pages.items()}
    lower = {k: v.lower() for k, v in pages.items()}
    errors = []
    ids = collections.Counter()
    counts = {}
    types = collections.Counter()
    per_file_types = {}
    for fname, minimum in EXPECTED.items():
        items = [json.loads(l) for l in open(os.path.join(HERE, fname), encoding='utf-8') if l.strip()]
        counts[fname] = len(items)
        per_file_types[fname] = collections.Counter()
        if fname in ('questions.jsonl',) and len(items) < minimum:
            errors.append('%s: %d items < %d' % (fname, len(items), minimum))
        if fname != 'questions.jsonl' and len(items) != minimum:
            errors.append('%s: %d items != %d' % (fname, len(items), minimum))
        for it in items:
            ids[it['id']] += 1
            if 'turns' in it:
                want = 2 if fname == 'followups.jsonl' else 3
                if len(it['turns']) != want:
                    errors.append('%s: %d turns' % (it['id'], len(it['turns'])))
                typ = 'unanswerable' if not it['gold_paths'] else 'answerable'
            else:
                typ = it['type']
                if not it['question'].strip():
                    errors.append(it['id'] + ': empty question')
            types[typ] += 1
            per_file_types[fname][typ] += 1
            gold, facts = it['gold_paths'], it['answer_facts']
            if typ == 'unanswerable' or not gold:
                if gold or facts:
                    errors.append(it['id'] + ': unanswerable item has gold/facts')
                probes = UNANSWERABLE_PROBES.get(it['id'])
                if not probes:
                    errors.append(it['id'] + ': no absence probe defined')
                    continue
                for group in probes:
                    for p, txt in npages.items():
                        if all((' %s ' % norm(w)) in (' %s ' % txt) for w in group):
                            errors.append('%s: probe %r all found in %s' % (it['id'], group, p))
                continue
            if not facts:
                errors.append(it['id'] + ': no answer_facts')
            for g in gold:
                if g not in pages:
                    errors.append('%s: gold path missing %s' % (it['id'], g))
            for fact in facts:
                nw = len(fact.split())
                if not 3 <= nw <= 15:
                    errors.append('%s: fact has %d words: %s' % (it['id'], nw, fact))
                nf = norm(fact)
                if not any(nf in npages.get(g, '') for g in gold):
                    errors.append('%s: fact not in gold pages: %s' % (it['id'], fact))
    dup = [i for i, c in ids.items() if c > 1]
    if dup:
        errors.append('duplicate ids: %s' % dup)
    total_bytes = sum(len(v.encode('utf-8')) for v in pages.values())
    print('corpus: %d files, %d bytes' % (len(pages), total_bytes))
    for fname in EXPECTED:
        print('%-20s %3d  %s' % (fname, counts[fname], dict(sorted(per_file_types[fname].items()))))
    print('ids unique: %s (%d ids)' % (not dup, len(ids)))
    if errors:
        print('FAIL: %d problem(s)' % len(errors))
        for e in errors:
            print('  -', e)
        sys.exit(1)
    print('OK: all gold paths exist, all answer facts found verbatim (normalised) in a gold page,')
    print('    no unanswerable probe group co-occurs in any page')


if __name__ == '__main__':
    main()
