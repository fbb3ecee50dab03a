#!/usr/bin/env python3
"""Mechanical checks for the jetbrains dev set (run from this folder: python3 check.py)."""
import collections
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
FILES = ["questions.jsonl", "heldout.jsonl", "followups.jsonl", "conversations.jsonl"]
MIN_COUNTS = {"questions.jsonl": 52, "heldout.jsonl": 17, "followups.jsonl": 11,
              "conversations.jsonl": 12}
EXACT_COUNTS = {"heldout.jsonl": 17, "followups.jsonl": 11, "conversations.jsonl": 12}
TYPES = {"factoid", "requirement", "change", "comparison", "shorthand", "multi", "yesno",
         "list", "number", "procedure", "unanswerable"}

# Unanswerable items: for each, the distinctive words of the asked attribute (a page holding
# ALL of them is listed for reading by hand) and regexes over normalised text that would
# state the attribute (any match anywhere in the corpus is an error).
ABSENT = {
    "j49": (["phone", "support", "payout"], [r"support \w+ phone", r"phone number (for|of) (the )?(marketplace )?support", r"call (us|our)"]),
    "j50": (["exchange", "rate"], [r"exchange rate", r"conversion rate", r"\bfx\b", r"currency conversion"]),
    "j51": (["verified", "vendor", "days"], [r"verified\b.{0,120}\b(within|takes?|in) \d+ (business |working )?(days|weeks)", r"badge.{0,80}\d+ (business |working )?(days|weeks)"]),
    "j52": (["high revenue", "threshold"], [r"high revenue plugins?.{0,80}\d", r"revenue (threshold|above|exceeding|over) \d"]),
    "j53": (["coupons", "maximum"], [r"(maximum|max|up to|no more than|limit of) \d+ (new )?coupons", r"coupons?.{0,40}(limit|cap|maximum)"]),
    "j54": (["volume", "discount", "maximum"], [r"(maximum|max|up to|no more than) \d+ ?(%|percent)", r"discount of (up to|at most)"]),
    "j55": (["visual studio"], [r"visual studio", r"vs ?code", r"\bvsix\b", r"microsoft marketplace"]),
    "j56": (["eclipse"], [r"eclipse"]),
    "j57": (["2025", "notices"], [r"reporting period.{0,60}2025", r"31 december 2025", r"2025.{0,200}total number of notices"]),
    "j58": (["refund", "processed"], [r"refunds? (are|is|will be) (processed|issued|returned|credited) within", r"refund.{0,60}\d+ (business |working )?days to (appear|process|arrive)"]),
    "j59": (["demo", "credentials", "expire"], [r"credentials.{0,80}(expire|valid for|validity)", r"demo access.{0,60}(expire|valid for)"]),
    "jh15": (["members", "maximum"], [r"(maximum|max|up to|no more than|limit of) \d+ members", r"members?.{0,40}(limit|cap)"]),
    "jh16": (["unity asset"], [r"\bunity\b", r"asset store"]),
    "jh17": (["description", "maximum", "characters"], [r"description.{0,80}(maximum|max|at most|no more than|up to) \d+ characters", r"(maximum|max) description length"]),
}


def norm(s):
    s = s.lower()
    s = re.sub(r"[^0-9a-z]+", " ", s)  # ASCII letters/digits
    return re.sub(r"\s+", " ", s).strip()


def norm_u(s):
    # unicode-aware variant: every char that is not a letter or digit becomes a space
    s = s.lower()
    s = "".join(c if c.isalnum() else " " for c in s)
    return re.sub(r"\s+", " ", s).strip()


def load_corpus():
    pages = {}
    for dp, _, fns in os.walk(CORPUS):
        for fn in fns:
            if fn.endswith(".md"):
                p = os.path.join(dp, fn)
                rel = os.path.relpath(p, CORPUS)
                pages[rel] = open(p, encoding="utf-8").read()
    return pages


def main():
    pages = load_corpus()
    npages = {k: norm_u(v) for k, v in pages.items()}
    errors = []
    ids = collections.Counter()
    counts = {}
    types = {}
    for fn in FILES:
        path = os.path.join(HERE, fn)
        items = []
        with open(path, encoding="utf-8") as f:
            for ln, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    items.append(json.loads(line))
                except Exception as e:  # noqa
                    errors.append(f"{fn}:{ln}: bad JSON: {e}")
        counts[fn] = len(items)
        tcount = collections.Counter()
        for it in items:
            iid = it.get("id")
            ids[iid] += 1
            if fn in ("questions.jsonl", "heldout.jsonl"):
                if not isinstance(it.get("question"), str) or not it["question"].strip():
                    errors.append(f"{iid}: missing question")
                t = it.get("type")
                if t not in TYPES:
                    errors.append(f"{iid}: bad type {t}")
                tcount[t] += 1
                unans = t == "unanswerable"
            else:
                turns = it.get("turns")
                need = 2 if fn == "followups.jsonl" else 3
                if not isinstance(turns, list) or len(turns) != need or not all(isinstance(x, str) and x.strip() for x in turns):
                    errors.append(f"{iid}: needs {need} turns")
                unans = not it.get("gold_paths")
                if unans:
                    tcount["unanswerable"] += 1
                else:
                    tcount["answerable"] += 1
            gp, af = it.get("gold_paths"), it.get("answer_facts")
            if not isinstance(gp, list) or not isinstance(af, list):
                errors.append(f"{iid}: gold_paths/answer_facts must be lists")
                continue
            if unans:
                if gp or af:
                    errors.append(f"{iid}: unanswerable must have empty gold_paths/answer_facts")
                if iid not in ABSENT:
                    errors.append(f"{iid}: unanswerable without an absence check")
                continue
            if not gp or not af:
                errors.append(f"{iid}: answerable item needs gold_paths and answer_facts")
            if len(af) > 3:
                errors.append(f"{iid}: more than 3 answer facts")
            for g in gp:
                if g not in pages:
                    errors.append(f"{iid}: gold path missing: {g}")
            for fact in af:
                nf = norm_u(fact)
                nw = len(nf.split())
                if nw < 1 or nw > 15:
                    errors.append(f"{iid}: fact length {nw} words: {fact!r}")
                if not any(nf and nf in npages.get(g, "") for g in gp):
                    errors.append(f"{iid}: fact not found in gold pages: {fact!r}")
        types[fn] = tcount

    for iid, c in ids.items():
        if c > 1:
            errors.append(f"duplicate id {iid} ({c}x)")
    for fn, m in MIN_COUNTS.items():
        if counts.get(fn, 0) < m:
            errors.append(f"{fn}: {counts.get(fn, 0)} items, need >= {m}")
    for fn, m in EXACT_COUNTS.items():
        if counts.get(fn, 0) != m:
            errors.append(f"{fn}: {counts.get(fn, 0)} items, expected {m}")
    if types["questions.jsonl"].get("unanswerable", 0) < 9:
        errors.append("questions.jsonl: fewer than 9 unanswerable")
    if types["heldout.jsonl"].get("unanswerable", 0) < 3:
        errors.append("heldout.jsonl: fewer than 3 unanswerable")

    # absence checks
    review = []
    for iid, (words, regexes) in ABSENT.items():
        if iid not in ids:
            errors.append(f"absence check for unknown id {iid}")
        for rel, txt in npages.items():
            for rx in regexes:
                m = re.search(rx, txt)
                if m:
                    errors.append(f"{iid}: absence regex {rx!r} matched in {rel}: ...{txt[max(0, m.start()-60):m.end()+60]}...")
            if all(norm_u(w) in txt for w in words):
                review.append(f"{iid}: all words {words} co-occur in {rel} (read by hand)")

    print("== counts per file")
    for fn in FILES:
        print(f"  {fn}: {counts.get(fn, 0)}  " + ", ".join(f"{k}={v}" for k, v in sorted(types[fn].items())))
    print(f"== corpus: {len(pages)} pages, {sum(len(v.encode('utf-8')) for v in pages.values())} bytes")
    print(f"== ids: {len(ids)} unique of {sum(ids.values())}")
    print("== co-occurrence hits for unanswerable items (read by hand):")
    for r in review:
        print("  " + r)
    if errors:
        print(f"== {len(errors)} ERRORS")
        for e in errors:
            print("  " + e)
        sys.exit(1)
    print("== OK: all gold paths exist, all answer facts found in a gold page, absence regexes clean")


if __name__ == "__main__":
    main()
