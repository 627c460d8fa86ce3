"""Which columns of a new table hold personal data: header patterns and value validators on a
sample, with a confidence per column.

A header alone is a hint (``Name`` may be a charging station's name, ``Kennzeichen`` a flag),
values alone are a hint (a column of dates is no list of birthdays); together they are
strong. Each kind has a validator of its own, from a checksum (IBAN, Steuer-ID,
Rentenversicherungsnummer) to a pattern (licence plates) or a list (first names). The sampled
values are only counted: they are never logged, stored or put into a message.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import duckdb
import phonenumbers
from stdnum import iban
from stdnum.de import idnr

from allmende import sql

#: Rows looked at per table: ``SLICES`` runs of consecutive rows spread evenly over it.
SAMPLE_ROWS = 300
SLICES = 10
#: Reported from this confidence on.
THRESHOLD = 0.5

KINDS = ("email", "phone", "iban", "tax_id", "social_security", "licence_plate",
         "birth_date", "name")


@dataclass(frozen=True)
class Finding:
    column: str
    kind: str
    confidence: float

    def as_dict(self) -> dict[str, object]:
        return {"column": self.column, "kind": self.kind, "confidence": self.confidence}


# --- headers -----------------------------------------------------------------------------

def fold(label: str) -> str:
    """A header as compared: lower case, umlauts spelled out, only letters and digits."""
    text = label.casefold().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue") \
        .replace("ß", "ss")
    text = unicodedata.normalize("NFKD", text)
    return re.sub(r"[^a-z0-9]+", "", text)


def _patterns(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{a})" for a in alternatives))


#: Headers that name a kind outright (searched in the folded header).
SPECIFIC = {
    "email": _patterns(r"^e?mail", r"emailadresse", r"mailadresse", r"^email"),
    "phone": _patterns(r"telefon", r"^tel(nr|nummer)?$", r"handy", r"mobilnummer",
                       r"mobiltelefon", r"rufnummer", r"phone", r"^mobil(e)?$", r"^fax"),
    "iban": _patterns(r"iban", r"bankverbindung", r"kontonummer"),
    "tax_id": _patterns(r"steuerid", r"steueridentifikationsnummer", r"^idnr$",
                        r"taxid", r"^tin$", r"identifikationsnummer"),
    "social_security": _patterns(r"sozialversicherungsnummer", r"^svnr$", r"^svnummer$",
                                 r"rentenversicherungsnummer", r"^rvnr$",
                                 r"socialsecurity", r"versicherungsnummer"),
    "licence_plate": _patterns(r"kfzkennzeichen", r"amtlicheskennzeichen", r"nummernschild",
                               r"licen[cs]eplate", r"numberplate", r"fahrzeugkennzeichen",
                               r"polizeilicheskennzeichen"),
    "birth_date": _patterns(r"geburtsdatum", r"geburtstag", r"geboren", r"^geb(datum)?$",
                            r"gebdat", r"^gebam$", r"geburtsjahr", r"dateofbirth", r"birthdate",
                            r"birthday", r"^dob$", r"yearofbirth"),
    "name": _patterns(r"vorname", r"nachname", r"familienname", r"geburtsname",
                      r"firstname", r"lastname", r"surname", r"givenname", r"fullname",
                      r"ansprechpartner", r"kontaktperson", r"antragsteller", r"inhaberin?$",
                      r"^person$", r"personenname", r"^vor(und|u)zuname$", r"^zuname$",
                      r"buergerin?$", r"patientin?$", r"schuelerin?$", r"mieterin?$"),
}
#: Headers that may name a kind: only with values that fit.
AMBIGUOUS = {
    "licence_plate": _patterns(r"kennzeichen", r"^plate$"),
    "name": _patterns(r"^name$", r"^namen?$", r"^names?$", r"^vollername$"),
    "phone": _patterns(r"^kontakt$", r"^tel\b"),
    "email": _patterns(r"^kontakt$", r"^contact$"),
}


#: Headers of keys and codes (AGS, Schlüssel, ID, Nr.): values that merely look like phone
#: numbers or names there are identifiers, not people.
IDENTIFIER = re.compile(r"(^(ags|ars|id|nr|code|key)$)|(schluessel|kennziffer|kennung|nummer$|"
                        r"^(objekt|gemeinde|kreis|regional|flur|flurstueck)|(id|nr)$)")


def header_match(label: str, kind: str) -> float:
    """1.0 where the header names the kind, 0.5 where it may, else 0."""
    folded = fold(label)
    if not folded:
        return 0.0
    if kind in SPECIFIC and SPECIFIC[kind].search(folded):
        return 1.0
    if kind in AMBIGUOUS and AMBIGUOUS[kind].search(folded):
        return 0.5
    return 0.0


# --- values ------------------------------------------------------------------------------

EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[A-Za-z]{2,}$")
#: Mailboxes of an office, not of a person (their addresses are published on purpose).
FUNCTIONAL_MAILBOXES = frozenset({
    "info", "kontakt", "contact", "poststelle", "post", "service", "mail", "office", "buero",
    "buergerbuero", "buergeramt", "rathaus", "presse", "pressestelle", "verwaltung",
    "zentrale", "anfrage", "anfragen", "hallo", "hello", "team", "stadt", "gemeinde",
    "webmaster", "noreply", "no-reply", "support", "termin", "termine", "sekretariat",
    "empfang", "ordnungsamt", "bauamt", "standesamt", "jugendamt", "sozialamt", "feuerwehr",
    "bibliothek", "museum", "schule", "kita", "opendata", "daten", "geodaten", "gis",
})


def is_email(value: str) -> bool:
    if not EMAIL.match(value):
        return False
    local = value.split("@", 1)[0].casefold()
    return local not in FUNCTIONAL_MAILBOXES


PHONE_CHARS = re.compile(r"^\+?[0-9 ()/.\-]{6,24}$")
DATE_LIKE = re.compile(r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}$")


def is_phone(value: str) -> bool:
    """A German or international number as people write it (0231 123456, +49 231 …,
    0049 …): it starts with 0, + or (0, so plain identifiers are not taken for numbers."""
    if not PHONE_CHARS.match(value) or not value.lstrip("(").startswith(("0", "+")) \
            or DATE_LIKE.match(value):
        return False
    if sum(c.isdigit() for c in value) < 7:
        return False
    try:
        number = phonenumbers.parse(value, "DE")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)


def is_iban(value: str) -> bool:
    return len(value) >= 15 and value[:2].isalpha() and iban.is_valid(value)


def is_tax_id(value: str) -> bool:
    digits = re.sub(r"[ ./-]", "", value)
    return len(digits) == 11 and digits.isdigit() and idnr.is_valid(digits)


SOCIAL_SECURITY = re.compile(r"^(\d{2})(\d{2})(\d{2})(\d{2})([A-Z])(\d{2})(\d)$")
_WEIGHTS = (2, 1, 2, 5, 7, 1, 2, 1, 2, 1, 2, 1)


def is_social_security(value: str) -> bool:
    """The German Versicherungsnummer: area (2 digits), birth date (DDMMYY), the birth
    name's initial, a serial number and a check digit (weights 2 1 2 5 7 1 2 1 2 1 2 1 over
    the digits with the letter as its two-digit position in the alphabet, digit sums of the
    products, modulo 10)."""
    match = SOCIAL_SECURITY.match(re.sub(r"[ ./-]", "", value.upper()))
    if match is None:
        return False
    _area, day, month, _year, letter, _serial, check = match.groups()
    if not (1 <= int(day) % 50 <= 31 and 1 <= int(month) <= 12):  # +50: a serial overflow
        return False
    digits = match.group(1) + day + month + _year + f"{ord(letter) - 64:02d}" + _serial
    total = sum(sum(divmod(int(d) * w, 10)) for d, w in zip(digits, _WEIGHTS, strict=True))
    return total % 10 == int(check)


PLATE = re.compile(r"^[A-ZÄÖÜ]{1,3}[- ]{1,2}[A-Z]{1,2}[- ]?[1-9][0-9]{0,3}[EH]?$")


def is_licence_plate(value: str) -> bool:
    return bool(PLATE.match(value.upper())) and value.upper() == value


DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d.%m.%y", "%d/%m/%Y", "%Y/%m/%d")


def is_birth_date(value: str) -> bool:
    """A date (or a year) on which someone alive may have been born."""
    today = dt.date.today()
    text = value.strip()[:10]
    if text.isdigit() and len(text) == 4:
        return today.year - 110 <= int(text) <= today.year
    for form in DATE_FORMATS:
        try:
            day = dt.datetime.strptime(text, form).date()
        except ValueError:
            continue
        return today.replace(year=today.year - 110) <= day <= today
    return False


@cache
def first_names() -> frozenset[str]:
    """The shipped first-name list (privacy/SOURCES.md), folded."""
    text = resources.files("allmende.privacy").joinpath("first_names.txt").read_text("utf-8")
    return frozenset(line.strip().casefold() for line in text.splitlines() if line.strip())


NAME_TOKEN = re.compile(r"^[^\W\d_][^\W\d_'’.-]*(?:[-'’][^\W\d_]+)*\.?$")


def is_person_name(value: str) -> bool:
    """A first name, or a full name (``Anna Schmidt``, ``Schmidt, Anna``) with a known first
    name and at most four words, all of them words."""
    words = value.replace(",", " ").split()
    if not 1 <= len(words) <= 4 or not all(NAME_TOKEN.match(w) for w in words):
        return False
    names = first_names()
    return any(part.casefold() in names for w in words for part in w.split("-"))


Validator = Callable[[str], bool]
#: (validator, weight of the values alone, rate from which the values count)
VALIDATORS: dict[str, tuple[Validator, float, float]] = {
    "email": (is_email, 0.95, 0.5),
    "iban": (is_iban, 0.95, 0.5),
    "tax_id": (is_tax_id, 0.9, 0.5),
    "social_security": (is_social_security, 0.95, 0.5),
    "phone": (is_phone, 0.7, 0.6),
    "licence_plate": (is_licence_plate, 0.6, 0.7),
    "birth_date": (is_birth_date, 0.0, 0.7),  # a date alone says nothing about birth
    "name": (is_person_name, 0.65, 0.6),
}
#: Validators from this weight on are checksums or exact formats: they count under any header.
STRONG = 0.9
#: Kinds a specific header alone reports (their values have no pattern of their own, such as
#: surnames, or are refused only for a format allmende does not know).
HEADER_SUFFICES = frozenset({"name", "birth_date", "tax_id", "social_security", "iban",
                             "email", "phone", "licence_plate"})
HEADER_ONLY = 0.6


def judge(label: str, values: Sequence[str]) -> Finding | None:
    """The most likely kind of personal data in one column, or None."""
    best: Finding | None = None
    identifier = bool(IDENTIFIER.search(fold(label)))
    for kind, (valid, weight, floor) in VALIDATORS.items():
        header = header_match(label, kind)
        if not header and (not weight or (identifier and weight < STRONG)):
            continue
        rate = sum(1 for v in values if valid(v)) / len(values) if values else 0.0
        confidence = _confidence(header, weight, rate, floor, kind)
        if confidence >= THRESHOLD and (best is None or confidence > best.confidence):
            best = Finding(label, kind, round(confidence, 2))
    return best


def _confidence(header: float, weight: float, rate: float, floor: float, kind: str) -> float:
    if rate >= floor:
        by_values = max(weight * rate, 0.5 * rate if header else 0.0)
        return 1 - (1 - by_values) * (1 - 0.8 * header)
    if header == 1.0 and kind in HEADER_SUFFICES:
        return HEADER_ONLY
    return 0.0


def scan_values(labels: Sequence[str], samples: Iterable[Sequence[str | None]]
                ) -> list[Finding]:
    """Judge every column from its sampled values (rows of text, as the reader has them)."""
    columns: list[list[str]] = [[] for _ in labels]
    for row in samples:
        for position, value in enumerate(row):
            if value is not None and (text := str(value).strip()):
                columns[position].append(text)
    found = [judge(label, values) for label, values in zip(labels, columns, strict=True)
             if values]
    return [f for f in found if f is not None]


def scan(con: duckdb.DuckDBPyConnection, relation: str, labels: Sequence[str], rows: int
         ) -> list[Finding]:
    """Judge the columns of a table in DuckDB (the reader's text columns, ``rows`` of them)
    on :data:`SAMPLE_ROWS` rows: :data:`SLICES` runs of consecutive rows spread evenly over
    the table. Runs, not a reservoir: a reservoir reads every row (a tenth of a second per
    million rows), a run only its own, and a file sorted by some column is still seen at
    its beginning, middle and end."""
    if not labels or rows <= 0:
        return []
    columns = [sql.ident(label) for label in labels]
    if rows <= SAMPLE_ROWS:
        statement = sql.select(columns, sql.ident(relation))
    else:
        length = SAMPLE_ROWS // SLICES
        starts = sorted({(rows - length) * k // (SLICES - 1) for k in range(SLICES)})
        statement = " UNION ALL ".join(
            f"({sql.select(columns, sql.ident(relation), limit=length, offset=start)})"
            for start in starts)
    return scan_values(labels, con.execute(statement).fetchall())
