"""Onboarding workbooks: a generated rollout wave of any size, and the docs example as XLSX.

`generate(...)` makes the sheets of a wave (25 municipalities, 1,500 institutions and
12,000 people by default) with the shape of the real thing: per municipality two
administrators, a few hotline staff, eight coordinators entitled for the vendors (six per
vendor, inside the default 4 to 8) and superusers at every institution. `write_xlsx` and
`write_csv` store sheets in the two formats `onboard import` reads.

`python -m bench.onboard_wave --example` rebuilds docs/onboarding-example.xlsx from the
CSV folder docs/onboarding-example/ (a test checks that the two say the same).
"""

from __future__ import annotations

import argparse
import csv
import random
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CSV = ROOT / "docs" / "onboarding-example"
EXAMPLE_XLSX = ROOT / "docs" / "onboarding-example.xlsx"
COLUMNS = {
    "municipalities": ("slug", "name", "wave", "go_live", "retention_days"),
    "institutions": ("municipality", "number", "name", "type"),
    "users": ("email", "name", "role", "municipality", "institution", "vendor"),
    "entitlements": ("email", "vendor"),
}
TYPES = ("skole", "dagtilbud", "sfo", "klub", "dagpleje")
FIRST = ["Anne", "Bo", "Cecilie", "Dorte", "Emil", "Frida", "Gitte", "Hans", "Ida", "Jens"]
LAST = ["Holm", "Lund", "Dahl", "Friis", "Kjær", "Møller", "Bach", "Bruun", "Skov", "Krogh"]
Sheets = dict[str, list[list[str]]]


def generate(
    municipalities: int = 25,
    institutions: int = 1500,
    users: int = 12000,
    vendors: tuple[str, ...] = ("netcompany", "meebook", "skolecloud", "stil"),
    wave: int = 1,
    prefix: str = "bench",
    go_live: date | None = None,
    seed: int = 17,
) -> Sheets:
    """A wave's sheets (header rows first); slugs, numbers and e-mails start with `prefix`."""
    rng = random.Random(seed)
    go_live = go_live or date(2027, 8, 9)
    sheets: Sheets = {name: [list(columns)] for name, columns in COLUMNS.items()}
    per_municipality = institutions // municipalities
    people = users // municipalities
    serial = 0
    for m in range(municipalities):
        slug = f"{prefix}-{wave}-{m + 1:02d}"
        name = f"{prefix.title()} {wave}.{m + 1:02d} Kommune"
        day = (go_live + timedelta(weeks=m % 3)).isoformat()
        sheets["municipalities"].append([slug, name, str(wave), day, "730"])
        numbers = []
        for i in range(per_municipality):
            serial += 1
            number = f"{wave:02d}{serial:07d}"
            numbers.append(number)
            kind = TYPES[i % len(TYPES)]
            sheets["institutions"].append([slug, number, f"{kind.title()} {name} {i + 1}", kind])

        def person(role: str, n: int, institution: str = "", slug: str = slug) -> list[str]:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            email = f"{role}.{n}@{slug}.{prefix}.sd-demo.dk"
            return [email, f"{first} {last}", role, slug, institution, ""]

        staff = [person("municipal_admin", n) for n in range(2)]
        staff += [person("hotline", n) for n in range(4)]
        coordinators = [person("coordinator", n) for n in range(8)]
        staff += coordinators
        for n in range(people - len(staff)):
            staff.append(person("superuser", n, numbers[n % len(numbers)]))
        sheets["users"] += staff
        for v, vendor in enumerate(vendors):
            for k in range(6):  # six of the eight per vendor, rotating
                sheets["entitlements"].append([coordinators[(v + k) % 8][0], vendor])
    return sheets


def write_csv(sheets: Sheets, folder: Path, delimiter: str = ";") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in sheets.items():
        with (folder / f"{name}.csv").open("w", encoding="utf-8-sig", newline="") as handle:
            csv.writer(handle, delimiter=delimiter).writerows(rows)
    return folder


def _typed(column: str, value: str):
    """Cells as a spreadsheet program would store them: numbers and dates typed."""
    if column in ("wave", "retention_days") and value.isdigit():
        return int(value)
    if column == "go_live" and value:
        return date.fromisoformat(value)
    return value


def write_xlsx(sheets: Sheets, path: Path) -> Path:
    from openpyxl import Workbook  # only the generator writes workbooks

    # not write_only: like a spreadsheet program, store each sheet's dimension and the
    # shared strings (without a dimension a reader must scan a sheet twice)
    workbook = Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        worksheet = workbook.create_sheet(name)
        header, *body = rows
        worksheet.append(header)
        for row in body:
            worksheet.append([_typed(c, v) for c, v in zip(header, row, strict=True)])
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path


def read_csv_folder(folder: Path) -> Sheets:
    sheets: Sheets = {}
    for name in COLUMNS:
        with (folder / f"{name}.csv").open(encoding="utf-8-sig", newline="") as handle:
            sheets[name] = [row for row in csv.reader(handle, delimiter=";") if any(row)]
    return sheets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--example", action="store_true", help="rebuild the docs example XLSX")
    parser.add_argument("--out", type=Path, help="write a generated wave here (.xlsx or folder)")
    parser.add_argument("--municipalities", type=int, default=25)
    parser.add_argument("--institutions", type=int, default=1500)
    parser.add_argument("--users", type=int, default=12000)
    args = parser.parse_args()
    if args.example:
        print(write_xlsx(read_csv_folder(EXAMPLE_CSV), EXAMPLE_XLSX))
    if args.out:
        sheets = generate(args.municipalities, args.institutions, args.users)
        if args.out.suffix == ".xlsx":
            print(write_xlsx(sheets, args.out))
        else:
            print(write_csv(sheets, args.out))


if __name__ == "__main__":
    main()
