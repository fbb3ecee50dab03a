"""Measuring answers on dev corpora (`partnerbot eval`).

- harness: dev sets, the metrics, one corpus measured with one way of answering
- suite: every corpus in its own index, shipped weights, leave-one-corpus-out, dense-only
- calibration: fitting the ranking weights and the confidence model on all corpora together
- distractors: off-topic documents for the crowded-index check
- report: the `eval` command's tables and JSON
"""
