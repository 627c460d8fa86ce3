"""Suggests a mapping of a typed table onto a schema, with a confidence (0–1) and a German
reason per field.

Evidence, per (schema field, source column) pair:

* header similarity after German normalization (ä→ae, ß→ss, case, separators, ``Str.``,
  ``Nr.``, ``PLZ``), against the field's name, title and the synonyms of its concept
  (:data:`CONCEPTS`; a schema may add its own under ``"x-synonyms"``);
* the column's values, from a sample of the first rows: type compatibility, e-mails, URLs,
  dates, coordinates in range, postcodes, postcode and town in one cell (→ split), watts where
  kilowatts are expected (→ scale), yes/no words (→ value map), values close to the field's
  enum (→ value map).

Pairs are then assigned greedily by confidence; a column serves one field only, unless its rule
takes a part of it (split, geometry). Fields below :data:`THRESHOLD` stay unmapped.

Numbered column groups (``Steckertypen1`` … ``Steckertypen4``, ``P1 [kW]`` … ``P4 [kW]``, or under
a banner ``1. Ladepunkt EVSE-ID1`` … ``4. Ladepunkt EVSE-ID4``) are recognized
(:func:`recognize_groups`); when a field fits one of their members, the suggestion turns the
groups into rows (:class:`~allmende.harmonize.mapping.Groups`), fields take members before
other columns, and the schema's primary key takes the member (an EVSE-ID) or, where it is
empty, the group's identifier ``<row key>/<number>``.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterable
from collections.abc import Mapping as MappingType
from dataclasses import dataclass, field
from datetime import datetime
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import duckdb

from allmende import sql
from allmende.catalog.text import fold
from allmende.errors import Message, joined, msg
from allmende.harmonize.mapping import (
    DEFAULT_GROUP,
    DateFormat,
    DatetimeFormat,
    Fallback,
    FieldRule,
    Geometry,
    Groups,
    Mapping,
    NumberFormat,
    Prefix,
    Scale,
    Split,
    ValueMap,
    as_text,
    because,
    skeleton,
)
from allmende.harmonize.registry import primary_key
from allmende.harmonize.source import load_source
from allmende.tables import store

THRESHOLD = 0.45
SAMPLE_ROWS = 1000
MAX_DISTINCT = 50

# Synonyms per concept, in normalized form (see _normalize). A field belongs to a concept when
# its name or title is one of the concept's terms.
CONCEPTS: dict[str, tuple[str, ...]] = {
    "operator": ("betreiber", "operator", "anbieter", "betreibergesellschaft", "traeger",
                 "eigentuemer", "betreiberin"),
    "street": ("strasse", "street", "strassenname", "str"),
    "house_number": ("hausnummer", "hausnr", "house number", "hnr", "hausnummer zusatz"),
    "address": ("adresse", "anschrift", "address", "standort"),
    "address_extra": ("adresszusatz", "zusatz", "address extra"),
    "postcode": ("postleitzahl", "plz", "postcode", "post code", "zip", "postal code"),
    "town": ("ort", "stadt", "city", "town", "gemeinde", "ortsname"),
    "district": ("kreis", "landkreis", "kreis kreisfreie stadt", "kreisfreie stadt"),
    "state": ("bundesland", "land", "state"),
    "latitude": ("breitengrad", "breite", "lat", "latitude", "geografische breite", "y"),
    "longitude": ("laengengrad", "laenge", "lon", "lng", "long", "longitude",
                  "geografische laenge", "x"),
    "geometry": ("geometrie", "geometry", "geom", "the geom", "wkt", "shape", "lage"),
    "commissioning": ("inbetriebnahmedatum", "inbetriebnahme", "datum der inbetriebnahme",
                      "in betrieb seit", "commissioning date"),
    "power": ("nennleistung", "leistung", "anschlussleistung", "ladeleistung", "power",
              "nennleistung ladeeinrichtung", "max leistung", "p", "p1"),
    "charge_point_id": ("ladepunkt id", "evse id", "evse", "evseid", "ladepunktkennung",
                        "ladepunkt kennung", "charge point id"),
    "charge_points": ("anzahl ladepunkte", "ladepunkte", "anzahl der ladepunkte",
                      "number of charging points"),
    "connectors": ("steckertypen", "steckertyp", "stecker", "steckertypen1", "connector",
                   "anschlusstypen"),
    "charger_kind": ("art der ladeeinrichtung", "ladeeinrichtung", "art", "typ",
                     "art der ladeeinrichung"),
    "name": ("name", "bezeichnung", "titel", "title"),
    "email": ("email", "e mail", "mail", "emailadresse"),
    "url": ("url", "website", "webseite", "homepage", "internet", "link", "internetadresse"),
    "phone": ("telefon", "telefonnummer", "tel", "phone", "fon"),
    "ags": ("ags", "amtlicher gemeindeschluessel", "gemeindeschluessel", "gkz"),
    "capacity": ("kapazitaet", "stellplaetze", "anzahl stellplaetze", "plaetze", "capacity",
                 "anzahl der stellplaetze"),
    "start": ("beginn", "start", "startdatum", "von", "baubeginn", "gueltig ab"),
    "end": ("ende", "enddatum", "bis", "bauende", "gueltig bis"),
    "population": ("einwohner", "einwohnerzahl", "bevoelkerung", "population", "anzahl einwohner"),
    "reference_date": ("stichtag", "stand", "datum", "reference date"),
    "status": ("status", "zustand", "state"),
    "accessible": ("barrierefrei", "rollstuhlgerecht", "barrierefreiheit", "behindertengerecht",
                   "wheelchair"),
    "fee": ("gebuehrenpflichtig", "kostenpflichtig", "gebuehr", "fee"),
    "description": ("beschreibung", "description", "bemerkung", "hinweis", "kommentar"),
}
ABBREVIATIONS = {"str": "strasse", "nr": "nummer", "hausnr": "hausnummer", "tel": "telefon",
                 "bez": "bezeichnung", "anz": "anzahl", "plz": "postleitzahl"}
YES_WORDS = frozenset({"ja", "j", "yes", "y", "x", "wahr", "true", "vorhanden", "1"})
NO_WORDS = frozenset({"nein", "n", "no", "falsch", "false", "nicht vorhanden", "0"})
DATE_FORMATS = ("%d.%m.%Y", "%d.%m.%y", "%Y-%m-%d", "%d/%m/%Y", "%Y%m%d")
DATETIME_FORMATS = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%Y-%m-%d %H:%M:%S",
                    "%Y-%m-%dT%H:%M:%S")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)
URL = re.compile(r"^(https?://|www\.)\S+$", re.IGNORECASE)
SCHEMELESS = re.compile(r"^www\.", re.IGNORECASE)
POSTCODE = re.compile(r"^\d{5}$")
POSTCODE_TOWN = r"^\s*(\d{5})\s+(.+?)\s*$"
GERMAN_NUMBER = re.compile(r"^[+-]?\d{1,3}(\.\d{3})*(,\d+)?$|^[+-]?\d+(,\d+)?$")
UNIT = re.compile(r"[\[(]\s*([^\])]+?)\s*[\])]|\bin\s+(k?w|watt|kilowatt|m|cm|km)\b")
LATITUDE = (47.0, 55.5)
LONGITUDE = (5.5, 15.5)


def _normalize(label: str) -> str:
    """``Straße/Hausnr.`` → ``strasse hausnummer``; digits split from letters."""
    text = UNIT.sub(" ", fold(label))
    text = re.sub(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])", " ", text)
    words = re.findall(r"[a-z0-9]+", text)
    return " ".join(ABBREVIATIONS.get(w, w) for w in words)


def _unit(label: str) -> str | None:
    match = UNIT.search(fold(label))
    return (match.group(1) or match.group(2)).strip() if match else None


def similarity(a: str, b: str) -> float:
    """How alike two normalized labels are (1 = equal). Short labels (``x``, ``lat``, ``plz``)
    only count as whole words; a word contained in a compound (``leistung`` in
    ``anschlussleistung``) counts by how much of it it covers."""
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    short, long_ = sorted((a, b), key=len)
    if len(short) <= 3:
        return 0.7 if short in long_.split() else 0.0
    ratio = SequenceMatcher(None, a, b).ratio()
    score = ratio if ratio >= 0.8 else ratio * 0.5
    if short in long_:
        score = max(score, 0.6 + 0.35 * len(short) / len(long_))
    return score


# --- profiles ----------------------------------------------------------------------------------


@dataclass
class ColumnProfile:
    name: str
    type: str
    key: str
    unit: str | None
    index: int
    values: list[str] = field(default_factory=list)
    # a member of numbered groups: its columns, one per group
    group_columns: list[str | None] = field(default_factory=list)

    def share(self, test: Callable[[str], Any]) -> float:
        """Fraction of the sampled values that pass ``test``."""
        return sum(1 for v in self.values if test(v)) / len(self.values) if self.values else 0.0

    def numbers(self) -> list[float]:
        return [float(v) for v in self.values if _is_float(v)]


@dataclass
class FieldProfile:
    name: str
    type: str
    format: str
    enum: list[str]
    keys: dict[str, float]  # normalized label → weight
    concepts: set[str]
    wants_kw: bool

    @classmethod
    def of(cls, descriptor: MappingType[str, Any]) -> FieldProfile:
        own = [descriptor["name"], descriptor.get("title") or "",
               *descriptor.get("x-synonyms", [])]
        keys = {_normalize(label): 1.0 for label in own if label}
        concepts = {concept for concept, terms in CONCEPTS.items()
                    if any(k in terms for k in keys)}
        for concept in concepts:
            keys.update({term: 0.95 for term in CONCEPTS[concept] if term not in keys})
        text = fold(" ".join([*own, descriptor.get("description") or ""]))
        enum = [str(v) for v in (descriptor.get("constraints") or {}).get("enum", [])]
        return cls(descriptor["name"], descriptor.get("type", "string"),
                   descriptor.get("format", "default"), enum, keys, concepts,
                   bool(re.search(r"(\b|_)kw(\b|_)|kilowatt", text)))


def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _profiles(con: duckdb.DuckDBPyConnection, source: str,
              source_columns: Iterable[MappingType[str, Any]],
              sample_rows: int) -> list[ColumnProfile]:
    columns = [ColumnProfile(c["name"], c["type"], _normalize(c["name"]), _unit(c["name"]), i)
               for i, c in enumerate(source_columns)]
    duck_types = {row[0]: row[1] for row in
                  con.execute(f"DESCRIBE {sql.ident(source)}").fetchall()}
    texts = [c for c in columns if c.type != "geometry"]
    if not texts:
        return columns
    rows = con.execute(sql.select([as_text(sql.ident(c.name), duck_types[c.name])
                                   for c in texts], sql.ident(source),
                                  limit=sample_rows)).fetchall()
    for i, column in enumerate(texts):
        column.values = [row[i] for row in rows if row[i] is not None and row[i].strip()]
    return columns


# --- evidence --------------------------------------------------------------------------------


@dataclass
class Candidate:
    field: str
    column: ColumnProfile
    confidence: float
    rule: FieldRule

    @property
    def reusable(self) -> bool:
        """Takes only a part of its column, which other fields may share."""
        return any(isinstance(t, Split | Geometry) for t in self.rule.transforms)


@dataclass
class Evidence:
    """What the values say about a pair: a factor on the header score, a floor from the
    values alone, transforms they need, and the words for the reason."""

    factor: float = 1.0
    floor: float = 0.0
    transforms: list[Any] = field(default_factory=list)
    notes: list[Message] = field(default_factory=list)


def _header(target: FieldProfile, column: ColumnProfile) -> tuple[float, Message | None]:
    best, label, weight = 0.0, "", 1.0
    for key, key_weight in target.keys.items():
        score = similarity(key, column.key)
        if score * key_weight > best * weight:
            best, label, weight = score, key, key_weight
    if best == 0:
        return 0.0, None
    if best == 1.0:
        note = (msg("Spaltenname stimmt überein") if weight == 1.0
                else msg("Spaltenname ist ein Synonym („{name}“)", name=label))
    else:
        note = msg("Spaltenname ähnelt „{name}“", name=label)
    return best * weight, note


def _evidence(target: FieldProfile, column: ColumnProfile) -> Evidence | None:
    """None when the column's values cannot fill the field."""
    if column.type == "geometry":
        return _geometry_evidence(target)
    checks = {"number": _number_evidence, "integer": _number_evidence, "date": _date_evidence,
              "datetime": _date_evidence, "boolean": _boolean_evidence,
              "geometry": lambda _t, _c: None}
    evidence = checks.get(target.type, _text_evidence)(target, column)
    if evidence is not None and target.enum:
        _enum_evidence(target, column, evidence)
    return evidence


def _geometry_evidence(target: FieldProfile) -> Evidence | None:
    if target.type == "geometry":
        return Evidence(floor=0.8, transforms=[Geometry()],
                        notes=[msg("Geometriespalte (WGS84) als WKT")])
    for concept, output in (("latitude", "lat"), ("longitude", "lon")):
        if concept in target.concepts and target.type == "number":
            return Evidence(factor=0.0, floor=0.55, transforms=[Geometry(output=output)],
                            notes=[msg("Breitengrad aus der Geometrie") if output == "lat"
                                   else msg("Längengrad aus der Geometrie")])
    return None


def _number_evidence(target: FieldProfile, column: ColumnProfile) -> Evidence | None:
    evidence = Evidence()
    if column.type not in ("integer", "number"):
        if column.type != "string" or column.share(GERMAN_NUMBER.match) < 0.9:
            return None
        evidence.transforms.append(NumberFormat())
        evidence.notes.append(msg("Zahlen mit Dezimalkomma"))
    numbers = column.numbers() if not evidence.transforms else []
    if target.type == "integer" and numbers and any(n != int(n) for n in numbers):
        evidence.factor = 0.6
        evidence.notes.append(msg("enthält Nachkommastellen"))
    for concept, (low, high) in (("latitude", LATITUDE), ("longitude", LONGITUDE)):
        if concept in target.concepts and numbers:
            inside = sum(low <= n <= high for n in numbers) / len(numbers)
            evidence.factor *= 0.3 + 0.7 * inside
            if inside >= 0.9:
                evidence.notes.append(msg("Werte im Bereich von Koordinaten in Deutschland"))
    if target.wants_kw:
        _watt_evidence(column, numbers, evidence)
    return evidence


def _watt_evidence(column: ColumnProfile, numbers: list[float], evidence: Evidence) -> None:
    unit = (column.unit or "").replace(" ", "")
    if unit in ("w", "watt") or (not unit and numbers and statistics.median(numbers) >= 1000):
        evidence.transforms.append(Scale(factor=0.001))
        evidence.notes.append(msg("Werte in W, umgerechnet in kW") if unit else
                              msg("Werte über 1000: wohl W, umgerechnet in kW"))
    elif unit == "kw":
        evidence.notes.append(msg("Einheit kW"))


def _date_evidence(target: FieldProfile, column: ColumnProfile) -> Evidence | None:
    wanted = DatetimeFormat if target.type == "datetime" else DateFormat
    if column.type == target.type:
        return Evidence()
    if column.type == "datetime" and target.type == "date":
        return Evidence(transforms=[DateFormat(format="%Y-%m-%dT%H:%M:%S")],
                        notes=[msg("Zeitstempel: nur das Datum")])
    if column.type == "date" and target.type == "datetime":
        return Evidence(transforms=[DatetimeFormat(format="%Y-%m-%d")],
                        notes=[msg("Datum als 00:00 Uhr")])
    if column.type != "string":
        return None
    formats = DATETIME_FORMATS if target.type == "datetime" else DATE_FORMATS
    shares = {p: column.share(lambda v, p=p: _parses(v, p)) for p in formats}
    pattern = max(formats, key=lambda p: shares[p])
    if shares[pattern] >= 0.9:
        return Evidence(transforms=[wanted(format=pattern)],
                        notes=[msg("Datumsformat {format}", format=pattern)])
    if shares[pattern] >= 0.5:  # some dates are wrong: the mapping reports them per row
        return Evidence(transforms=[wanted(format=pattern)], factor=0.8, notes=[msg(
            "Datumsformat {format}; {percent} % der Werte passen nicht", format=pattern,
            percent=round(100 * (1 - shares[pattern])))])
    return None


def _parses(value: str, pattern: str) -> bool:
    try:
        datetime.strptime(value.strip(), pattern)
    except ValueError:
        return False
    return True


def _boolean_evidence(_target: FieldProfile, column: ColumnProfile) -> Evidence | None:
    if column.type == "boolean":
        return Evidence()
    if column.type not in ("string", "integer"):
        return None
    words = Counter(v.strip().casefold() for v in column.values)
    known = {w for w in words if w in YES_WORDS or w in NO_WORDS}
    if not words or sum(words[w] for w in known) / sum(words.values()) < 0.9:
        return None
    values = {w: "true" if w in YES_WORDS else "false" for w in sorted(known)}
    return Evidence(floor=0.3, transforms=[ValueMap(values=values)],
                    notes=[msg("Ja/Nein-Werte → true/false")])


def _text_evidence(target: FieldProfile, column: ColumnProfile) -> Evidence | None:
    evidence = Evidence()
    wanted = target.format if target.format != "default" else _concept_format(target)
    for note, test, format_ in ((msg("Werte sind E-Mail-Adressen"), EMAIL.match, "email"),
                                (msg("Werte sind Web-Adressen"), URL.match, "uri")):
        share = column.share(test) if wanted == format_ else 0.0
        if share >= 0.8:
            evidence.floor = 0.5 + 0.4 * share
            evidence.notes.append(note)
            if format_ == "uri" and column.share(SCHEMELESS.match) > 0:
                evidence.transforms.append(Prefix(prefix="https://"))
                evidence.notes.append(msg("Adressen ohne https:// ergänzt"))
        elif wanted == format_ and column.values:
            evidence.factor = 0.5
    if "postcode" in target.concepts or "town" in target.concepts:
        _postcode_evidence(target, column, evidence)
    return evidence


def _concept_format(target: FieldProfile) -> str:
    if "email" in target.concepts:
        return "email"
    return "uri" if "url" in target.concepts else "default"


def _postcode_evidence(target: FieldProfile, column: ColumnProfile, evidence: Evidence) -> None:
    if column.share(lambda v: re.match(POSTCODE_TOWN, v)) >= 0.9:
        group = 1 if "postcode" in target.concepts else 2
        evidence.factor, evidence.floor = 1.0, 0.6
        evidence.transforms.append(Split(pattern=POSTCODE_TOWN, group=group))
        evidence.notes.append(msg("PLZ und Ort in einer Spalte: PLZ abgetrennt") if group == 1
                              else msg("PLZ und Ort in einer Spalte: Ort abgetrennt"))
    elif "postcode" in target.concepts and column.share(POSTCODE.match) >= 0.9:
        evidence.floor = 0.5
        evidence.notes.append(msg("fünfstellige Postleitzahlen"))


def _enum_evidence(target: FieldProfile, column: ColumnProfile, evidence: Evidence) -> None:
    counts = Counter(v.strip() for v in column.values)
    if not counts or len(counts) > MAX_DISTINCT:
        evidence.factor *= 0.3
        return
    matches = {value: _closest(value, target.enum) for value in counts}
    covered = sum(counts[v] for v, match in matches.items() if match) / sum(counts.values())
    evidence.factor *= 0.4 + 0.6 * covered
    evidence.floor = max(evidence.floor, 0.6 * covered if covered >= 0.8 else 0.0)
    renames = {v: m for v, m in matches.items() if m and m != v}
    if renames:
        evidence.transforms.append(ValueMap(values=renames, case_sensitive=True))
    evidence.notes.append(msg("{percent}% der Werte passen zur Werteliste",
                              percent=round(100 * covered)))


def _closest(value: str, enum: list[str]) -> str | None:
    key = _normalize(value)
    scored = [(similarity(key, _normalize(option)), option) for option in enum]
    score, option = max(scored, default=(0.0, None))
    return option if score >= 0.75 else None


def _candidate(target: FieldProfile, column: ColumnProfile) -> Candidate | None:
    evidence = _evidence(target, column)
    if evidence is None:
        return None
    header, header_note = _header(target, column)
    confidence = min(1.0, max(header * evidence.factor, evidence.floor))
    if confidence < THRESHOLD:
        return None
    notes = [n for n in (header_note if header * evidence.factor >= evidence.floor else None,
                         *evidence.notes) if n]
    if column.group_columns:
        named = [c for c in column.group_columns if c]
        notes.append(msg("je Gruppe aus „{first}“ … „{last}“", first=named[0], last=named[-1]))
    rule = FieldRule(source=[column.name], transforms=evidence.transforms,
                     confidence=round(confidence, 2), **because(joined(notes, "; ")))
    return Candidate(target.name, column, confidence, rule)


# --- numbered groups -------------------------------------------------------------------------

# "1. Ladepunkt Steckertypen1": the number of a banner label carried over its group's columns
NUMBERED_PREFIX = re.compile(r"^\s*(\d{1,2})\.\s+(\S.*)$")
# "Steckertypen1", "EVSE-ID3", "P2 [kW]": a number closing the label (before a unit)
NUMBERED_SUFFIX = re.compile(r"^(?P<stem>.*?[^\d\s])\s*(?P<n>\d{1,2})"
                             r"(?P<unit>\s*[\[(][^\])]*[\])])?\s*$")
ROW_KEY_WORDS = frozenset({"id", "kennung", "nummer", "schluessel", "key"})
NUMERIC = {"integer": "number", "number": "number"}


@dataclass
class RecognizedGroups:
    """Numbered column groups: per member its columns in group 1, 2, …; ``label`` is what
    the banner calls a group ("Ladepunkt"), if there is a banner."""

    members: dict[str, list[str | None]]
    label: str | None

    @property
    def columns(self) -> set[str]:
        return {c for columns in self.members.values() for c in columns if c}


def _numbered_suffix(label: str) -> tuple[str, int] | None:
    match = NUMBERED_SUFFIX.match(label)
    if not match:
        return None
    return match["stem"].strip() + (match["unit"] or ""), int(match["n"])


def _banner(names: list[str]) -> tuple[str, dict[str, tuple[int, str]]]:
    """The banner label common to the columns numbered in front (``1. Ladepunkt …``) and
    per such column its number and the label after the banner."""
    numbered = {name: (int(m[1]), m[2].split()) for name in names
                if (m := NUMBERED_PREFIX.match(name))}
    if len({number for number, _ in numbered.values()}) < 2:
        return "", {}
    words = [rest for _, rest in numbered.values()]
    common = 0
    while all(len(rest) > common + 1 and rest[common] == words[0][common] for rest in words):
        common += 1
    return (" ".join(words[0][:common]),
            {name: (number, " ".join(rest[common:])) for name, (number, rest) in numbered.items()})


def recognize_groups(names: Iterable[str]) -> RecognizedGroups | None:
    """Numbered groups among column labels: members with a number in front (under a banner),
    at the end (``Steckertypen1``, ``P2 [kW]``) or both (``1. Ladepunkt EVSE-ID1``). A member
    counts when it appears in at least two groups numbered from 1 on; without a banner, at
    least two members must share the numbers (``Telefon 1``, ``Telefon 2`` alone are two
    phone numbers, not groups)."""
    names = list(names)
    label, banner = _banner(names)
    found: dict[str, dict[int, list[str]]] = {}
    for name in names:
        if name in banner:
            number, rest = banner[name]
            suffix = _numbered_suffix(rest)
            member = suffix[0] if suffix and suffix[1] == number else rest
        elif suffix := _numbered_suffix(name):
            member, number = suffix
        else:
            continue
        found.setdefault(member, {}).setdefault(number, []).append(name)
    members = {member: {n: columns[0] for n, columns in numbers.items()}
               for member, numbers in found.items()
               if len(numbers) >= 2 and 1 in numbers and all(len(c) == 1
                                                              for c in numbers.values())}
    if not members or (not label and len(members) < 2):
        return None
    count = max(max(numbers) for numbers in members.values())
    return RecognizedGroups({member: [numbers.get(n) for n in range(1, count + 1)]
                             for member, numbers in members.items()}, label or None)


def _member_profiles(columns: list[ColumnProfile], groups: RecognizedGroups
                     ) -> list[ColumnProfile]:
    """A profile per member: its values from all its columns, its type the one most of them
    have (integer and number count as number; a column of one group typed as text because
    of one odd cell does not make the member text)."""
    by_name = {c.name: c for c in columns}
    profiles = []
    for member, names in groups.members.items():
        parts = [by_name[n] for n in names if n]
        votes: Counter[str] = Counter()
        for part in parts:
            votes[NUMERIC.get(part.type, part.type)] += len(part.values)
        kind = votes.most_common(1)[0][0] if votes.total() else parts[0].type
        if kind == "number" and all(p.type == "integer" for p in parts
                                    if NUMERIC.get(p.type) == "number"):
            kind = "integer"
        profiles.append(ColumnProfile(member, kind, _normalize(member), _unit(member),
                                      parts[0].index, [v for p in parts for v in p.values],
                                      list(names)))
    return profiles


def _group_label(groups: RecognizedGroups, schema: MappingType[str, Any]) -> str:
    """The banner's label, else the schema's own word for a row ("eine Zeile je
    Ladepunkt"), else "Gruppe"."""
    if groups.label:
        return groups.label
    match = re.search(r"[Ee]ine Zeile je (\w+)", str(schema.get("description") or ""))
    return match[1] if match else DEFAULT_GROUP


def _row_key(columns: list[ColumnProfile]) -> str | None:
    """A column that identifies the source rows: named like an identifier, its sampled values
    present in every row and all different."""
    rows = max((len(c.values) for c in columns), default=0)
    for column in columns:
        if (column.type != "geometry" and ROW_KEY_WORDS & set(column.key.split())
                and rows and len(column.values) == rows
                and len(set(column.values)) == rows):
            return column.name
    return None


# --- assignment ------------------------------------------------------------------------------


def suggest_mapping(con: duckdb.DuckDBPyConnection, source: str,
                    source_columns: Iterable[MappingType[str, Any]],
                    schema: MappingType[str, Any], ags: str | None = None,
                    sample_rows: int = SAMPLE_ROWS) -> Mapping:
    """A mapping of table ``source`` onto ``schema``; every rule carries a confidence and a
    reason. ``ags``, when known, fills an AGS field no column provides. Numbered column groups
    become rows when a field fits one of their members."""
    columns = _profiles(con, source, source_columns, sample_rows)
    targets = [FieldProfile.of(f) for f in schema["fields"]]
    recognized = recognize_groups(c.name for c in columns)
    if recognized is not None:
        general = [c for c in columns if c.name not in recognized.columns]
        grouped = _assign(targets, [*general, *_member_profiles(columns, recognized)], schema,
                          ags)
        groups = Groups(members=recognized.members, number=_group_label(recognized, schema),
                        key=_row_key(general))
        # (a member named like a column of the file would hide it: then no groups)
        if any(rule.source and rule.source[0] in recognized.members
               for rule in grouped.fields.values()) and \
                not set(groups.offered()) & {c.name for c in columns}:
            return _with_groups(grouped, groups, schema)
    return _assign(targets, columns, schema, ags)


def _with_groups(mapping: Mapping, groups: Groups, schema: MappingType[str, Any]) -> Mapping:
    """The groups step, and the primary key taken from the member that fills it, else from
    the group's identifier."""
    mapping.groups = groups
    key = primary_key(dict(schema))
    if len(key) != 1 or key[0] not in mapping.fields:
        return mapping
    rule = mapping.fields[key[0]]
    otherwise = msg("{key}/{group}-Nummer", key=groups.key or msg("Nummer der Quellzeile"),
                    group=groups.number)
    if rule.source and rule.source[0] in groups.members:
        mapping.fields[key[0]] = rule.model_copy(update={
            "source": [rule.source[0], groups.identifier],
            "transforms": [Fallback(), *rule.transforms],
            **because(msg("{reason}; ohne Wert: {otherwise}", reason=rule.why or "",
                          otherwise=otherwise))})
    else:
        mapping.fields[key[0]] = FieldRule(
            source=[groups.identifier], confidence=0.6,
            **because(msg("keine Kennung je {group}: {otherwise}", group=groups.number,
                          otherwise=otherwise)))
    return mapping


def _assign(targets: list[FieldProfile], columns: list[ColumnProfile],
            schema: MappingType[str, Any], ags: str | None) -> Mapping:
    candidates = [c for t in targets for col in columns if (c := _candidate(t, col))]
    # members of groups first (a member describes the row's own object, another column the
    # whole source row); then best first; on equal confidence the earlier column
    candidates.sort(key=lambda c: (not c.column.group_columns, -c.confidence, c.column.index))
    mapping = skeleton(schema)
    taken: set[str] = set()
    for candidate in candidates:
        if mapping.fields[candidate.field].mapped:
            continue
        if candidate.column.name in taken and not candidate.reusable:
            continue
        mapping.fields[candidate.field] = candidate.rule
        if not candidate.reusable:
            taken.add(candidate.column.name)
    for target in targets:
        rule = mapping.fields[target.name]
        if not rule.mapped:
            mapping.fields[target.name] = _unmapped(target, ags)
    return mapping


def _unmapped(target: FieldProfile, ags: str | None) -> FieldRule:
    if ags and "ags" in target.concepts:
        return FieldRule(constant=ags, confidence=0.6,
                         **because(msg("keine Spalte; AGS der Organisation als fester Wert")))
    return FieldRule(confidence=0.0, **because(msg("keine passende Spalte gefunden")))


def suggest_for_file(path: Path, schema: MappingType[str, Any]) -> Mapping:
    """Reads and types a file like an upload (offline) and suggests its mapping."""
    with store.connection() as con:
        source = load_source(con, path)
        return suggest_mapping(con, source.relation, source.columns, schema)
