"""The synonym list in faq_content/synonyms.txt, applied at query time."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from supportdesk.search.analysis import words


@dataclass
class Synonyms:
    """Groups of interchangeable terms or phrases, looked up by their folded words."""

    groups: list[list[tuple[str, ...]]] = field(default_factory=list)
    # first word → [(phrase, group index)], longest phrases first
    by_first: dict[str, list[tuple[tuple[str, ...], int]]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Synonyms:
        synonyms = cls()
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            phrases = []
            for term in line.split(","):
                phrase = tuple(words(term))
                if phrase and phrase not in phrases:
                    phrases.append(phrase)
            if len(phrases) < 2:
                continue
            index = len(synonyms.groups)
            synonyms.groups.append(phrases)
            for phrase in phrases:
                synonyms.by_first.setdefault(phrase[0], []).append((phrase, index))
        for entries in synonyms.by_first.values():
            entries.sort(key=lambda entry: -len(entry[0]))
        return synonyms

    @classmethod
    def load(cls, path: Path | str | None) -> Synonyms:
        if path is None:
            return cls()
        path = Path(path)
        if not path.is_file():
            return cls()
        return cls.parse(path.read_text(encoding="utf-8"))

    def match(self, tokens: list[str], start: int) -> tuple[int, list[tuple[str, ...]]] | None:
        """The longest phrase starting at tokens[start]: (length, all phrases of its groups)."""
        for phrase, _index in self.by_first.get(tokens[start], ()):
            end = start + len(phrase)
            if tuple(tokens[start:end]) == phrase:
                # A phrase may be in several groups: their members are all alternatives.
                alternatives: list[tuple[str, ...]] = []
                for group in self.groups:
                    if phrase in group:
                        alternatives.extend(p for p in group if p not in alternatives)
                return len(phrase), alternatives
        return None
