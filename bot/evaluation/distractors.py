"""Off-topic documents, to check that retrieval holds in a crowded index.

A real documents folder holds more than the partner program: other vendors' pages,
old newsletters, unrelated wikis. `partnerbot eval --distractors N` indexes a dev
corpus together with the other dev corpora and N generated documents about other
subjects, and measures the same questions again. The documents are generated from a
fixed seed, so a second run finds them unchanged and embeds nothing.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

from bot.evaluation.harness import DevSet, EvalItem

SEED = 20261130

_TOPICS: dict[str, tuple[list[str], list[str]]] = {
    "gardening": (
        ["tomatoes", "roses", "basil", "the lawn", "seedlings", "fruit trees", "the compost heap"],
        [
            "Water {thing} early in the morning, about {n} litres a week.",
            "Prune {thing} in late winter, leaving {n} healthy buds on each stem.",
            "Feed {thing} with a balanced fertiliser every {n} weeks in summer.",
            "Mulch around {thing} to keep the soil moist and the weeds down.",
        ],
    ),
    "cooking": (
        ["the sourdough", "a risotto", "the stock", "roast vegetables", "the custard", "pasta"],
        [
            "Simmer {thing} for {n} minutes, stirring now and then.",
            "Season {thing} with salt only at the end, once it has reduced.",
            "Bake {thing} at {n}0 degrees until golden at the edges.",
            "Let {thing} rest for {n} minutes before serving.",
        ],
    ),
    "astronomy": (
        ["Jupiter", "the Orion nebula", "a lunar eclipse", "the Perseids", "Saturn's rings"],
        [
            "{thing} is best seen after midnight with a {n}-inch telescope.",
            "Observers report {thing} clearly on {n} nights out of ten in August.",
            "A dark site far from city lights makes {thing} far easier to see.",
        ],
    ),
    "cycling": (
        ["the chain", "brake pads", "tyre pressure", "the gears", "a puncture", "the saddle"],
        [
            "Check {thing} every {n} rides and after wet weather.",
            "Adjust {thing} with a {n} mm hex key and test before riding.",
            "Replace {thing} when it shows visible wear or makes noise.",
        ],
    ),
    "history": (
        ["the Roman roads", "the printing press", "medieval guilds", "the Silk Road", "canals"],
        [
            "Historians date {thing} to around {n}00 years ago.",
            "Trade along {thing} shaped the towns that grew beside it.",
            "Records of {thing} survive in {n} regional archives.",
        ],
    ),
    "home repair": (
        ["a dripping tap", "the boiler", "damp walls", "a squeaky door", "loose tiles"],
        [
            "Fix {thing} by replacing the washer, a job of about {n} minutes.",
            "Have {thing} serviced once a year by a qualified engineer.",
            "Ventilate the room daily to stop {thing} from getting worse.",
        ],
    ),
    "travel": (
        ["the night train", "a city pass", "the ferry", "hostel beds", "the mountain hut"],
        [
            "Book {thing} at least {n} weeks ahead in the summer season.",
            "{thing} costs less outside the holidays and on weekdays.",
            "Carry cash for {thing}; card machines are often offline.",
        ],
    ),
    "pets": (
        ["the puppy", "an older cat", "rabbits", "the aquarium", "a parrot"],
        [
            "Feed {thing} twice a day, about {n}0 grams each time.",
            "Take {thing} to the vet for a check-up every {n} months.",
            "Give {thing} a quiet corner to rest during fireworks.",
        ],
    ),
}


def write_offtopic(folder: Path, count: int, *, seed: int = SEED) -> None:
    """`count` Markdown documents about everyday subjects far from any partner program."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    topics = sorted(_TOPICS)
    for n in range(count):
        topic = topics[n % len(topics)]
        things, templates = _TOPICS[topic]
        sections = []
        for s in range(rng.randint(1, 3)):
            sentences = [
                rng.choice(templates).format(thing=rng.choice(things), n=rng.randint(2, 9))
                for _ in range(rng.randint(3, 6))
            ]
            sentences = [x[0].upper() + x[1:] for x in sentences]
            sections.append(f"## {topic.title()} notes {s + 1}\n\n" + " ".join(sentences))
        text = f"---\ntitle: {topic.title()} guide {n}\n---\n\n" + "\n\n".join(sections) + "\n"
        path = folder / f"{topic.replace(' ', '-')}-{n:04d}.md"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


def crowded(devsets: list[DevSet], count: int, folder: Path) -> list[DevSet]:
    """Every dev set's questions over one folder holding all their corpora (each under
    its name) and `count` off-topic documents; gold paths follow the move."""
    with_corpus = [d for d in devsets if d.corpus is not None]
    for d in with_corpus:
        target = folder / d.name
        shutil.rmtree(target, ignore_errors=True)  # copied afresh; unchanged files embed nothing
        shutil.copytree(d.corpus, target)  # type: ignore[arg-type]
    write_offtopic(folder / "offtopic", count)
    return [
        DevSet(
            f"{d.name}+{count}",
            folder,
            [
                EvalItem(
                    id=i.id,
                    turns=i.turns,
                    gold_paths=[f"{d.name}/{p}" for p in i.gold_paths],
                    answer_facts=i.answer_facts,
                    type=i.type,
                )
                for i in d.items
            ],
        )
        for d in with_corpus
    ]
