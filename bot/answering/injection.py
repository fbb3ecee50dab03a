"""Text that addresses the model rather than partners: instructions hidden in a document
("ignore previous instructions…", "ignorez les instructions précédentes…"), or a model
talking about its own prompt. Neither is ever shown to partners as an answer, by either
composer.

Recognised by word lists in English, French, German, Spanish, Italian, Portuguese and
Dutch, compared without accents or case: a verb that sets instructions aside near a word
for instructions or rules; "you are now …", "act as …"; the system prompt; new
instructions; an order to tell partners or users something.
"""

from __future__ import annotations

import re
import unicodedata

# Set aside (ignore, forget, override …) — in each language, as written to a model.
_SET_ASIDE = (
    "ignore|ignoring|disregard|forget|override|bypass|"
    "ignorez|ignorer|oublie|oubliez|oublier|"
    "ignoriere|ignoriert|ignorieren|vergiss|vergesst|vergessen|missachte|missachten|"
    "ignora|ignorad|ignore|ignorar|olvida|olvide|olvidad|omite|"
    "ignori|dimentica|dimenticate|trascura|"
    "ignorem|esqueca|esquecam|desconsidere|"
    "negeer|negeren|vergeet|vergeten"
)
# Instructions, rules, prompt — in each language.
_ORDERS = (
    "instructions?|prompts?|rules|guidelines|"
    "consignes|regles|directives|"
    "anweisungen|anleitungen|regeln|vorgaben|richtlinien|"
    "instrucciones|reglas|indicaciones|"
    "istruzioni|regole|"
    "instrucoes|regras|"
    "instructies|regels|aanwijzingen"
)
_INJECTION = re.compile(
    rf"\b({_SET_ASIDE})\b.{{0,40}}\b({_ORDERS})\b"
    # "you are now …", "act as …" (a role given to the model)
    r"|\byou are now\b|\bfrom now on,? you\b|\bact as\b.{0,30}\b(assistant|bot|ai)\b"
    r"|\b(tu es|vous etes) (maintenant|desormais)\b|\b(du bist|sie sind) (jetzt|nun|ab sofort)\b"
    r"|\b(ahora eres|ahora usted es|ora sei|agora voce e|je bent nu|u bent nu)\b"
    # the system prompt, new instructions
    r"|\bsystem ?prompt\b|\bprompt (systeme|du systeme|del sistema|di sistema|do sistema)\b"
    r"|\bsystem-?prompt\b|\bsysteemprompt\b"
    r"|\b(new|nouvelles?|neue|nuevas?|nuove|novas?|nieuwe) (instructions?|consignes|anweisungen"
    r"|instrucciones|istruzioni|instrucoes|instructies)\b"
    # the model talking about its own instructions
    r"|\bmy (instructions|prompt|guidelines)\b|\bas an ai\b"
    r"|\bi (was|am|have been) (told|instructed|programmed) to\b"
    # an order to tell partners or users something
    r"|\b(tell|inform|instruct|remind)\b.{0,15}\b(all |the |every )?"
    r"(partners|users|everyone|readers)\b"
    r"|\b(dites|dis) (a|aux) (tous les |les )?(partenaires|utilisateurs)\b"
    r"|\b(sag|sage|sagt|sagen sie) (allen |den )?(partnern|nutzern|benutzern)\b"
    r"|\b(di|diga|digan|decid) a (todos )?(los )?(socios|partners|usuarios)\b"
    r"|\b(di|dite) (a tutti )?(ai )?(partner|utenti)\b"
    r"|\b(diga|digam) (a todos )?(aos )?(parceiros|usuarios)\b"
    r"|\b(zeg|vertel) (alle |de )?(partners|gebruikers)\b",
    re.IGNORECASE,
)


def _plain(text: str) -> str:
    """Lower-case, without accents: "précédentes" and "precedentes" meet."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def looks_like_injection(text: str) -> bool:
    """Does this text address the model (or is it the model talking about its prompt)?"""
    return bool(_INJECTION.search(_plain(text)))
