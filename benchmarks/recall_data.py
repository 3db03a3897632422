"""LoCoMo-format conversations as a retrieval task: passages to store, questions to search.

The format and every normalisation rule follow ``shared/data/locomo-notes.md`` exactly, so the
numbers compare with the reference table there: one passage per turn, text
``[<session date_time>] <Speaker>: <text> [shares <blip_caption>]``; evidence ids are every
``D:?(\\d+):(\\d+)`` match in each evidence string, deduplicated, kept only if the turn exists; a
question of categories 1-4 whose evidence is empty after that is not asked.

The data set is CC BY-NC: it is read from the path the user gives, never copied into the repo.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CATEGORIES: dict[int, str] = {1: "multi_hop", 2: "temporal", 3: "open_domain", 4: "single_hop"}
_EVIDENCE = re.compile(r"D:?(\d+):(\d+)")
_SESSION = re.compile(r"^session_(\d+)$")


@dataclass(frozen=True)
class Turn:
    dia_id: str  # "D<session>:<turn>"
    session: int
    date_time: str  # the session's "1:56 pm on 8 May, 2023"
    speaker: str
    text: str
    caption: str | None  # blip_caption of a shared image

    def passage(self, *, date: bool = True, caption: bool = True) -> str:
        """The stored text of this turn, as the notes define it."""
        text = f"{self.speaker}: {self.text}"
        if date:
            text = f"[{self.date_time}] {text}"
        if caption and self.caption:
            text = f"{text} [shares {self.caption}]"
        return text


@dataclass(frozen=True)
class Question:
    text: str
    category: int
    evidence: frozenset[str]  # normalised dia_ids, never empty


@dataclass(frozen=True)
class Conversation:
    sample_id: str
    turns: list[Turn]  # in conversation order
    questions: list[Question]


def normalise_evidence(evidence: list[str], existing: set[str]) -> frozenset[str]:
    """``"D8:6; D9:17"`` → {D8:6, D9:17}; ``"D:11:26"`` → {D11:26}; unknown turns dropped."""
    ids = {f"D{m.group(1)}:{m.group(2)}" for item in evidence for m in _EVIDENCE.finditer(str(item))}
    return frozenset(ids & existing)


def parse_conversations(samples: list[dict[str, Any]]) -> list[Conversation]:
    """LoCoMo samples (``locomo10.json`` layout) → conversations with their askable questions."""
    return [_parse_sample(sample) for sample in samples]


def load_locomo(path: Path) -> list[Conversation]:
    with path.open(encoding="utf-8") as file:
        return parse_conversations(json.load(file))


def _parse_sample(sample: dict[str, Any]) -> Conversation:
    conv = sample["conversation"]
    sessions = sorted(int(m.group(1)) for key in conv if (m := _SESSION.match(key)))
    turns = [
        Turn(
            dia_id=raw["dia_id"],
            session=number,
            date_time=conv[f"session_{number}_date_time"],
            speaker=raw["speaker"],
            text=raw["text"],
            caption=raw.get("blip_caption") or None,
        )
        for number in sessions
        for raw in conv[f"session_{number}"]
    ]
    existing = {t.dia_id for t in turns}
    questions = []
    for qa in sample["qa"]:
        if qa["category"] not in CATEGORIES:
            continue
        evidence = normalise_evidence(qa.get("evidence") or [], existing)
        if evidence:
            questions.append(Question(text=qa["question"], category=qa["category"], evidence=evidence))
    return Conversation(sample_id=sample["sample_id"], turns=turns, questions=questions)
