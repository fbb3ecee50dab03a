"""Answering a question from the documents: the answerer (answerer.py) rewrites a
follow-up into a standalone question (rewrite.py), retrieves, and composes a cited
answer, extractive (extractive.py) or grounded by an LLM (grounded.py, llm.py)."""
