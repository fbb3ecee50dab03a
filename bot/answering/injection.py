"""Text that addresses the model rather than partners: instructions hidden in a document
("ignore previous instructions…"), or a model talking about its own prompt. Neither is
ever shown to partners as an answer, by either composer."""

from __future__ import annotations

import re

_INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions|prompt|rules)\b"
    r"|\byou are now\b|\bsystem prompt\b|\bact as\b.{0,30}\b(assistant|bot|ai)\b"
    r"|\bmy (instructions|prompt|guidelines)\b|\bas an ai\b"
    r"|\bi (was|am|have been) (told|instructed|programmed) to\b",
    re.IGNORECASE,
)


def looks_like_injection(text: str) -> bool:
    """Does this text address the model (or is it the model talking about its prompt)?"""
    return bool(_INJECTION.search(text))
