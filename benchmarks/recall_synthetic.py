"""A small synthetic conversation set in LoCoMo's layout, generated here so CI never needs the data set.

Deterministic for a seed: a few conversations of a few hundred turns in all, with facts buried in
small talk and distractor turns that reuse the same nouns, and questions of the four categories that
reuse their evidence's words the way LoCoMo's do (single-hop and temporal: one fact turn; multi-hop
and open-domain: two turns about one hobby; some facts only in a shared image's caption). It is a
smoke test of the whole pipeline, not a measure of quality: only the real data set says that.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

NAMES = ["Avery", "Bruno", "Chiara", "Dmitri", "Elena", "Farid", "Greta", "Hiro"]
PLACES = ["farmers market", "harbor", "library", "mountain cabin", "museum", "bakery", "stadium", "vineyard"]
OBJECTS = ["telescope", "violin", "kayak", "sourdough starter", "sketchbook", "chess set", "bonsai tree", "drone"]
ADJECTIVES = ["vintage", "bright red", "handmade", "second-hand", "tiny", "enormous", "antique", "shiny"]
VERBS = [("bought", "buy"), ("found", "find"), ("repaired", "repair"), ("painted", "paint"), ("sold", "sell")]
HOBBIES = ["pottery", "birdwatching", "rock climbing", "salsa dancing", "beekeeping", "origami", "surfing", "archery"]
HOBBY_PLACES = ["community center", "lake shore", "old warehouse", "university gym", "rooftop garden", "coast"]
SMALL_TALK = [
    "How have you been lately?",
    "Work has been busy but I am hanging in there.",
    "That sounds lovely, tell me more!",
    "I have been thinking about taking a break soon.",
    "The weather was gloomy all week.",
    "Thanks for asking, it means a lot.",
    "I watched a documentary about the {obj} last night.",
    "My neighbour keeps talking about the {place}.",
    "Have you ever been to the {place}?",
    "Someone at work mentioned {hobby} again.",
]


def generate(*, conversations: int = 3, sessions: int = 6, turns_per_session: int = 18, seed: int = 7) -> list[dict]:
    """LoCoMo-layout samples (``sample_id``, ``conversation``, ``qa``), the same for the same arguments."""
    rng = random.Random(seed)
    return [_conversation(rng, index, sessions, turns_per_session) for index in range(conversations)]


def _conversation(rng: random.Random, index: int, sessions: int, per_session: int) -> dict[str, Any]:
    a, b = rng.sample(NAMES, 2)
    start = datetime(2023, 1, 1) + timedelta(days=rng.randrange(300))
    dates = [
        start + timedelta(days=9 * s, hours=rng.randrange(9, 20), minutes=rng.randrange(60)) for s in range(sessions)
    ]
    turns: list[list[dict[str, Any]]] = [[] for _ in range(sessions)]
    qa: list[dict[str, Any]] = []
    for s in range(sessions):
        for t in range(per_session):
            speaker = a if t % 2 == 0 else b
            turns[s].append({"speaker": speaker, "dia_id": f"D{s + 1}:{t + 1}", "text": _small_talk(rng)})

    def plant(session: int, speaker: str, text: str, caption: str | None = None) -> str:
        """Replace a random small-talk turn of ``speaker`` in ``session`` with a fact turn."""
        slots = [i for i, turn in enumerate(turns[session]) if turn["speaker"] == speaker and "fact" not in turn]
        slot = rng.choice(slots)
        turns[session][slot].update(text=text, fact=True)
        if caption:
            turns[session][slot]["blip_caption"] = caption
        return turns[session][slot]["dia_id"]

    for n, (obj, adj) in enumerate(zip(rng.sample(OBJECTS, 4), rng.sample(ADJECTIVES, 4), strict=True)):
        speaker, (past, base) = rng.choice([a, b]), rng.choice(VERBS)
        place, session = rng.choice(PLACES), rng.randrange(sessions)
        if n == 3:  # the fact only shows in the picture, as in LoCoMo's image turns
            dia = plant(session, speaker, "Look at what I got this weekend!", caption=f"a {adj} {obj} at the {place}")
            qa.append(_qa(f"What did {speaker} get at the {place}?", 4, dia))
            continue
        dia = plant(session, speaker, f"I finally {past} a {adj} {obj} at the {place}, so happy about it.")
        qa.append(_qa(f"What did {speaker} {base} at the {place}?", 4, dia))
        qa.append(_qa(f"When did {speaker} {base} the {obj}?", 2, dia))
    for hobby in rng.sample(HOBBIES, 3):
        speaker = rng.choice([a, b])
        first, second = sorted(rng.sample(range(sessions), 2))
        p1, p2 = rng.sample(HOBBY_PLACES, 2)
        d1 = plant(first, speaker, f"I tried {hobby} for the first time at the {p1}, it was amazing.")
        d2 = plant(second, speaker, f"Went back to {hobby} class, this time at the {p2} with friends.")
        qa.append(_qa(f"Where has {speaker} done {hobby}?", 1, d1, d2))
        qa.append(_qa(f"Would {speaker} enjoy a {hobby} retreat?", 3, d1, d2))
    conversation: dict[str, Any] = {"speaker_a": a, "speaker_b": b}
    for s in range(sessions):
        conversation[f"session_{s + 1}_date_time"] = _locomo_date(dates[s])
        conversation[f"session_{s + 1}"] = [{k: v for k, v in turn.items() if k != "fact"} for turn in turns[s]]
    return {"sample_id": f"synthetic-{index + 1}", "conversation": conversation, "qa": qa}


def _small_talk(rng: random.Random) -> str:
    line = rng.choice(SMALL_TALK)
    return line.format(obj=rng.choice(OBJECTS), place=rng.choice(PLACES), hobby=rng.choice(HOBBIES))


def _qa(question: str, category: int, *evidence: str) -> dict[str, Any]:
    return {"question": question, "answer": "", "evidence": list(evidence), "category": category}


def _locomo_date(moment: datetime) -> str:
    """LoCoMo's session stamp, e.g. ``1:56 pm on 8 May, 2023``."""
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'am' if moment.hour < 12 else 'pm'} on {moment.day} {moment:%B}, {moment.year}"
