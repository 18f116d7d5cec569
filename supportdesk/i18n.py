"""Translation catalogues: one per domain, compiled for Flask-Babel, checked for gaps.

`python -m supportdesk.i18n compile` compiles every supportdesk/*/translations
catalogue; `python -m supportdesk.i18n check` lists messages in the code and
templates that have no Danish translation in any catalogue (exit 1 if any).
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent
METHODS = [
    ("supportdesk/**.py", "python"),
    ("templates/**.html", "jinja2"),
    # Plain-text e-mail templates (templates/<domain>/email/*.txt) are translated too.
    ("templates/**.txt", "jinja2"),
]
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "lazy_gettext": None,
    "_l": None,
    "lazy_ngettext": (1, 2),
}


def catalogue_files() -> list[Path]:
    return sorted(PACKAGE.glob("**/translations/da/LC_MESSAGES/messages.po"))


def compile_all() -> int:
    for po_path in catalogue_files():
        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale="da")
        with po_path.with_suffix(".mo").open("wb") as handle:
            write_mo(handle, catalog, use_fuzzy=False)
    return len(catalogue_files())


def translated_ids() -> set[str]:
    ids: set[str] = set()
    for po_path in catalogue_files():
        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale="da")
        for message in catalog:
            # a plural message needs every form (Danish has two)
            forms = message.string if isinstance(message.string, tuple) else (message.string,)
            if message.id and all(forms) and not message.fuzzy:
                ids.add(message.id if isinstance(message.id, str) else message.id[0])
    return ids


def extracted_ids() -> dict[str, str]:
    """Message id → first place it is used."""
    found: dict[str, str] = {}
    options = {
        "templates/**.html": {"extensions": "jinja2.ext.do"},
        "templates/**.txt": {"extensions": "jinja2.ext.do"},
    }
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), METHODS, options_map=options, keywords=KEYWORDS
    ):
        ident = message if isinstance(message, str) else message[0]
        if ident:
            found.setdefault(ident, f"{filename}:{lineno}")
    return found


def missing_translations() -> dict[str, str]:
    done = translated_ids()
    return {ident: where for ident, where in extracted_ids().items() if ident not in done}


def owning_catalogue(where: str) -> Path:
    """supportdesk/<domain>/… and templates/<domain>/… belong to that domain's catalogue."""
    parts = Path(where.split(":")[0]).parts
    if len(parts) > 2 and parts[0] in ("supportdesk", "templates"):
        domain_dir = PACKAGE / parts[1]
        if domain_dir.is_dir() and (domain_dir / "__init__.py").exists():
            return domain_dir / "translations/da/LC_MESSAGES/messages.po"
    return PACKAGE / "translations/da/LC_MESSAGES/messages.po"


def _po_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def add_missing(domain: str | None = None) -> int:
    """Append untranslated messages, with an empty msgstr, to the owning catalogue.

    With a domain ("tickets", or "core" for the shared catalogue) only that
    domain's catalogue is touched, so people working on different domains do
    not write each other's files.
    """
    missing = missing_translations()
    by_file: dict[Path, list[tuple[str, str]]] = {}
    for ident, where in missing.items():
        target = owning_catalogue(where)
        if domain is not None:
            wanted = PACKAGE / "translations" if domain == "core" else PACKAGE / domain
            if not target.is_relative_to(wanted) or (
                domain == "core" and target != PACKAGE / "translations/da/LC_MESSAGES/messages.po"
            ):
                continue
        by_file.setdefault(target, []).append((ident, where))
    for po_path, entries in by_file.items():
        po_path.parent.mkdir(parents=True, exist_ok=True)
        existing = po_path.read_text(encoding="utf-8") if po_path.exists() else HEADER
        present = {m.id for m in read_po(po_path.open("rb"))} if po_path.exists() else set()
        chunks = [
            f'#: {where}\nmsgid {_po_quote(ident)}\nmsgstr ""\n'
            for ident, where in sorted(entries, key=lambda e: e[1])
            if ident not in present
        ]
        po_path.write_text(existing.rstrip("\n") + "\n\n" + "\n".join(chunks), encoding="utf-8")
    return len(missing)


def fill(mapping: dict[str, str]) -> int:
    """Set the Danish text of the given message ids in whichever catalogue holds them."""
    from babel.messages.pofile import write_po

    filled = 0
    for po_path in catalogue_files():
        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale="da")
        changed = False
        for message in catalog:
            if message.id in mapping and message.string != mapping[message.id]:
                message.string = mapping[message.id]
                changed = True
                filled += 1
        if changed:
            with po_path.open("wb") as handle:
                write_po(handle, catalog, width=100, omit_header=False)
    return filled


HEADER = (
    'msgid ""\nmsgstr ""\n"Project-Id-Version: supportdesk\\n"\n"Language: da\\n"\n'
    '"MIME-Version: 1.0\\n"\n"Content-Type: text/plain; charset=UTF-8\\n"\n'
    '"Content-Transfer-Encoding: 8bit\\n"\n"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n'
)


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "compile"
    if command == "compile":
        count = compile_all()
        print(f"compiled {count} catalogue(s)")
        return 0
    if command == "check":
        missing = missing_translations()
        for ident, where in sorted(missing.items(), key=lambda kv: kv[1]):
            print(f"{where}: {ident!r}")
        print(f"{len(missing)} message(s) without a Danish translation")
        return 1 if missing else 0
    if command == "fill" and len(argv) > 2:
        import json

        mapping = json.loads(Path(argv[2]).read_text(encoding="utf-8"))
        print(f"{fill(mapping)} translation(s) set")
        return 0
    if command == "update":
        domain = argv[2] if len(argv) > 2 else None
        print(
            f"{add_missing(domain)} message(s) added with an empty Danish translation; fill them in"
        )
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
