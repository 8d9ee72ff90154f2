"""The message catalogs: extract, update, compile (Babel).

    .venv/bin/python scripts/i18n.py          # extract messages, update every .po, compile the .mo files
    .venv/bin/python scripts/i18n.py --check  # exit 1 if a catalog lacks a message or a .mo is stale

Messages are the arguments of ``_()``, ``N_()`` and ``ngettext()`` in ``holysheep_tui``. A translator edits
``holysheep_tui/locale/<lang>/LC_MESSAGES/holysheep.po``; this script keeps it in step with the source
(new messages added empty, dropped ones marked obsolete) and compiles the ``.mo`` the app reads.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "holysheep_tui"
LOCALE_DIR = PACKAGE / "locale"
DOMAIN = "holysheep"
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
LOCALES = ("zh_CN",)


def extract() -> Catalog:
    """Every message the source uses, with where it is used."""
    catalog = Catalog(project="holysheep-tui", domain=DOMAIN, charset="utf-8")
    found = extract_from_dir(
        str(PACKAGE), method_map=[("**.py", "python")], keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)
    )
    for filename, lineno, message, comments, context in found:
        catalog.add(message, locations=[(f"holysheep_tui/{filename}", lineno)], auto_comments=comments,
                    context=context)  # fmt: skip
    return catalog


def po_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(path: Path, locale: str) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=locale, domain=DOMAIN)


def missing(template: Catalog, catalog: Catalog) -> list[str]:
    """Messages of ``template`` that ``catalog`` does not translate (absent, empty or fuzzy)."""
    out = []
    for message in template:
        if not message.id:
            continue
        found = catalog.get(message.id, context=message.context)
        strings = found.string if found is not None else None
        values = strings if isinstance(strings, tuple | list) else (strings,)
        if found is None or found.fuzzy or not all(values):
            out.append(message.id if isinstance(message.id, str) else message.id[0])
    return out


def compiled(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


def stale_mo(locale: str) -> bool:
    """Whether the shipped ``.mo`` says other than its ``.po``."""
    mo = po_path(locale).with_suffix(".mo")
    if not mo.exists():
        return True
    with mo.open("rb") as f:
        shipped = read_mo(f)
    source = read_catalog(po_path(locale), locale)
    want = {_key(m.id): _key(m.string) for m in source if m.id and not m.fuzzy and m.string}
    have = {_key(m.id): _key(m.string) for m in shipped if m.id}
    return want != have


def _key(value: object) -> object:
    """A plural message's forms as a tuple (a .mo reads them back as lists)."""
    return tuple(value) if isinstance(value, list | tuple) else value


def update() -> None:
    template = extract()
    LOCALE_DIR.mkdir(parents=True, exist_ok=True)
    with (LOCALE_DIR / f"{DOMAIN}.pot").open("wb") as f:
        write_po(f, template, width=100, omit_header=False, sort_output=False)
    for locale in LOCALES:
        path = po_path(locale)
        path.parent.mkdir(parents=True, exist_ok=True)
        catalog = read_catalog(path, locale) if path.exists() else Catalog(locale=locale, domain=DOMAIN)
        catalog.update(template, no_fuzzy_matching=True)
        with path.open("wb") as f:
            write_po(f, catalog, width=100, include_previous=False, ignore_obsolete=True)
        with path.with_suffix(".mo").open("wb") as f:
            f.write(compiled(catalog))
        left = missing(template, catalog)
        print(f"{locale}: {len(template) - len(left)}/{len(template)} translated", file=sys.stderr)


def check() -> int:
    template = extract()
    status = 0
    for locale in LOCALES:
        left = missing(template, read_catalog(po_path(locale), locale))
        for message in left:
            print(f"{locale}: not translated: {message!r}")
        if stale_mo(locale):
            print(f"{locale}: {po_path(locale).with_suffix('.mo')} is stale: run scripts/i18n.py")
            status = 1
        status = status or int(bool(left))
    return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="report untranslated messages and stale .mo files")
    args = parser.parse_args()
    if args.check:
        return check()
    update()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
