"""Summarise py-spy collapsed stacks: where the workers spend their time."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

# frames worth naming: the app, and the libraries a request spends time in
INTERESTING = (
    "supportdesk/",
    "jinja2/",
    "sqlalchemy/",
    "flask_babel",
    "babel/",
    "werkzeug/",
    "wtforms/",
    "whoosh/",
    "psycopg/",
    "flask_login",
    "markdown_it",
    "nh3",
    "sqlite3",
)


def summarize(paths: list[Path], top: int = 25) -> list[str]:
    """Inclusive share of samples per interesting frame, biggest first."""
    inclusive: Counter[str] = Counter()
    total = 0
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            samples = int(count)
            total += samples
            seen = set()
            for frame in stack.split(";"):
                if any(key in frame for key in INTERESTING):
                    name = _short(frame)
                    if name not in seen:
                        seen.add(name)
                        inclusive[name] += samples
    if not total:
        return ["(no samples)"]
    return [f"{100 * n / total:5.1f} %  {name}" for name, n in inclusive.most_common(top)]


def _short(frame: str) -> str:
    """'render (jinja2/environment.py:1295)' -> 'render (jinja2/environment.py)'."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"
