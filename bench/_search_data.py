"""The catalog of the search benchmark: realistic German municipal datasets, generated once
per size and inserted with bulk SQL.

Titles, descriptions and keywords follow a municipal pattern (topics, cities, districts,
offices: the query mix of bench/search.py relies on them) and carry words drawn with a Zipf
distribution (s = 1) from Debian's German word list `wngerman` (/usr/share/dict/ngerman,
about 350,000 word forms), so the index sees a real vocabulary: well over 50,000 distinct word
forms at 100,000 datasets. Deterministic: random.Random(42) and numpy's default_rng(42).

Generated rows are kept as pickled chunks in the temporary directory
(allmende-bench-search/<n>-v<GENERATOR_VERSION>) and reused by later runs of the same size.
Datasets are inserted with executemany (SQLite) or COPY (PostgreSQL), never through the service.
"""

from __future__ import annotations

import datetime as dt
import json
import pickle
import random
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from psycopg import sql as pgsql
from sqlalchemy import func, insert, select, update
from sqlalchemy import text as sql

from allmende.access import accounts
from allmende.access.policy import Actor
from allmende.catalog import organizations
from allmende.catalog.indexing import search_terms
from allmende.catalog.vocabularies import political_geocoding_uri
from allmende.db.models import CatalogState, Dataset, Organization, Resource
from allmende.platform import Platform

WORDLIST = Path("/usr/share/dict/ngerman")
WORDLIST_HELP = ("The search benchmark draws its vocabulary from Debian's German word list "
                 f"{WORDLIST}, which is missing. Install it with:\n"
                 "    apt-get install -y wngerman\n"
                 "(on other systems: any list of German word forms, one per line, at that path)")
GENERATOR_VERSION = 3  # 3: rows carry the stable uuid (migration 0006)
ZIPF_EXPONENT = 1.0
CHUNK = 5_000
OPERATOR = Actor(is_sysadmin=True, name="bench")
NOW = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)

# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------

# slug, name, AGS, share of all datasets, city used in titles, districts.
ORGANIZATIONS: list[tuple[str, str, str | None, float, str, list[str]]] = [
    ("dortmund", "Stadt Dortmund", "05913000", 0.16, "Dortmund",
     ["Innenstadt-Nord", "Hörde", "Aplerbeck", "Hombruch", "Brackel", "Eving", "Scharnhorst",
      "Huckarde", "Lütgendortmund", "Mengede"]),
    ("essen", "Stadt Essen", "05113000", 0.15, "Essen",
     ["Rüttenscheid", "Altenessen", "Steele", "Kettwig", "Borbeck", "Werden", "Frohnhausen"]),
    ("duisburg", "Stadt Duisburg", "05112000", 0.12, "Duisburg",
     ["Marxloh", "Ruhrort", "Homberg", "Rheinhausen", "Hamborn", "Walsum", "Meiderich"]),
    ("bochum", "Stadt Bochum", "05911000", 0.11, "Bochum",
     ["Wattenscheid", "Langendreer", "Querenburg", "Weitmar", "Linden", "Gerthe"]),
    ("gelsenkirchen", "Stadt Gelsenkirchen", "05513000", 0.08, "Gelsenkirchen",
     ["Buer", "Horst", "Schalke", "Ückendorf", "Erle", "Hassel"]),
    ("oberhausen", "Stadt Oberhausen", "05119000", 0.07, "Oberhausen",
     ["Sterkrade", "Osterfeld", "Alt-Oberhausen", "Schmachtendorf"]),
    ("hagen", "Stadt Hagen", "05914000", 0.06, "Hagen",
     ["Hohenlimburg", "Haspe", "Eilpe", "Boele", "Vorhalle"]),
    ("hamm", "Stadt Hamm", "05915000", 0.06, "Hamm",
     ["Heessen", "Bockum-Hövel", "Rhynern", "Pelkum", "Uentrop"]),
    ("muelheim", "Stadt Mülheim an der Ruhr", "05117000", 0.06, "Mülheim an der Ruhr",
     ["Saarn", "Styrum", "Dümpten", "Heißen", "Speldorf"]),
    ("herne", "Stadt Herne", "05916000", 0.05, "Herne",
     ["Wanne-Eickel", "Sodingen", "Holsterhausen", "Horsthausen"]),
    ("rvr", "Regionalverband Ruhr", None, 0.08, "",
     ["Emscher-Lippe", "Westliches Ruhrgebiet", "Östliches Ruhrgebiet", "Ruhrtal"]),
]

# plural, singular, themes, topic keywords, office.
TOPICS: list[tuple[str, str, list[str], list[str], str]] = [
    ("Ladesäulen", "Ladesäule", ["TRAN", "ENER"],
     ["Elektromobilität", "Ladeinfrastruktur", "Ladepunkte", "E-Auto"], "Tiefbauamt"),
    ("Parkhäuser", "Parkhaus", ["TRAN"],
     ["Parken", "Stellplätze", "Parkleitsystem", "Tiefgaragen"], "Ordnungsamt"),
    ("Baustellen", "Baustelle", ["TRAN"],
     ["Verkehrsbehinderungen", "Straßenbau", "Sperrungen", "Umleitungen"], "Tiefbauamt"),
    ("Grünflächen", "Grünfläche", ["ENVI"],
     ["Stadtgrün", "Parkanlagen", "Grünpflege", "Erholung"], "Grünflächenamt"),
    ("Straßenbäume", "Straßenbaum", ["ENVI"],
     ["Baumkataster", "Baumarten", "Stadtbäume", "Baumpflege"], "Grünflächenamt"),
    ("Schulen", "Schule", ["EDUC"],
     ["Grundschulen", "Gymnasien", "Schulstandorte", "Schülerzahlen"], "Schulverwaltungsamt"),
    ("Kitas", "Kita", ["EDUC", "SOCI"],
     ["Kinderbetreuung", "Kindertagesstätten", "Betreuungsplätze", "U3-Betreuung"], "Jugendamt"),
    ("Einwohner nach Stadtteilen", "Einwohnerzahl", ["SOCI", "REGI"],
     ["Bevölkerung", "Demografie", "Einwohnerstatistik", "Altersstruktur"],
     "Amt für Statistik und Wahlen"),
    ("Luftqualität", "Luftmessstation", ["ENVI", "HEAL"],
     ["Stickstoffdioxid", "Feinstaub", "Luftreinhalteplan", "Messwerte"], "Umweltamt"),
    ("Radwege", "Radweg", ["TRAN"],
     ["Radverkehr", "Fahrrad", "Radschnellweg", "Radverkehrsnetz"], "Stadtplanungsamt"),
    ("Straßen", "Straße", ["TRAN", "REGI"],
     ["Straßenverzeichnis", "Straßennamen", "Straßenschlüssel", "Adressen"],
     "Vermessungs- und Katasteramt"),
    ("Spielplätze", "Spielplatz", ["SOCI", "EDUC"],
     ["Spielflächen", "Kinder", "Bolzplätze", "Spielgeräte"], "Grünflächenamt"),
    ("Haltestellen", "Haltestelle", ["TRAN"],
     ["ÖPNV", "Nahverkehr", "Bushaltestellen", "Barrierefreiheit"], "Stadtplanungsamt"),
    ("Wahlergebnisse", "Wahlergebnis", ["GOVE"],
     ["Wahlen", "Kommunalwahl", "Stimmbezirke", "Wahlbeteiligung"],
     "Amt für Statistik und Wahlen"),
    ("Haushaltspläne", "Haushaltsplan", ["ECON", "GOVE"],
     ["Finanzen", "Haushalt", "Produkthaushalt", "Kämmerei"], "Kämmerei"),
    ("Gewerbeanmeldungen", "Gewerbeanmeldung", ["ECON"],
     ["Gewerbe", "Existenzgründungen", "Gewerbeabmeldungen", "Branchen"], "Ordnungsamt"),
    ("Bebauungspläne", "Bebauungsplan", ["REGI"],
     ["Bauleitplanung", "Stadtplanung", "Flächennutzungsplan", "Planungsrecht"],
     "Stadtplanungsamt"),
    ("Denkmäler", "Denkmal", ["EDUC"],
     ["Denkmalschutz", "Baudenkmäler", "Denkmalliste", "Industriekultur"], "Denkmalbehörde"),
    ("Friedhöfe", "Friedhof", ["SOCI"],
     ["Grabstätten", "Bestattungen", "Friedhofsflächen"], "Grünflächenamt"),
    ("Sportstätten", "Sportstätte", ["EDUC"],
     ["Sport", "Turnhallen", "Sportplätze", "Schwimmbäder"], "Sportamt"),
    ("Bibliotheken", "Bibliothek", ["EDUC"],
     ["Stadtbibliothek", "Medienbestand", "Ausleihen", "Zweigstellen"], "Kulturbetriebe"),
    ("Verkehrszählungen", "Verkehrszählung", ["TRAN"],
     ["Verkehrsstärken", "Kfz-Verkehr", "Zählstellen", "Pendler"], "Tiefbauamt"),
    ("Lärmkarten", "Lärmkarte", ["ENVI", "HEAL"],
     ["Umgebungslärm", "Lärmaktionsplan", "Straßenlärm"], "Umweltamt"),
    ("Hochwassergefahrenkarten", "Hochwassergefahrenkarte", ["ENVI", "JUST"],
     ["Hochwasser", "Starkregen", "Überschwemmungsgebiete", "Klimaanpassung"], "Umweltamt"),
    ("Defibrillatoren", "Defibrillator", ["HEAL"],
     ["Erste Hilfe", "AED", "Notfall"], "Feuerwehr"),
    ("Apotheken", "Apotheke", ["HEAL"],
     ["Gesundheit", "Notdienst", "Versorgung"], "Gesundheitsamt"),
    ("Photovoltaikanlagen", "Photovoltaikanlage", ["ENER", "ENVI"],
     ["Solarenergie", "Solarkataster", "Erneuerbare Energien", "Dachflächen"], "Umweltamt"),
    ("Abfallbehälter", "Abfallbehälter", ["ENVI"],
     ["Abfall", "Papierkörbe", "Stadtreinigung", "Wertstoffe"], "Wirtschaftsbetriebe"),
    ("Öffentliche Toiletten", "Öffentliche Toilette", ["SOCI"],
     ["Toiletten", "Barrierefreiheit", "Sanitäranlagen"], "Immobilienwirtschaft"),
    ("Feuerwachen", "Feuerwache", ["JUST"],
     ["Feuerwehr", "Rettungsdienst", "Brandschutz", "Einsätze"], "Feuerwehr"),
    ("Verkehrsunfälle", "Verkehrsunfall", ["TRAN", "JUST"],
     ["Unfallatlas", "Unfallstatistik", "Verkehrssicherheit"], "Ordnungsamt"),
    ("Parkscheinautomaten", "Parkscheinautomat", ["TRAN"],
     ["Parkgebühren", "Parkraumbewirtschaftung", "Parken"], "Ordnungsamt"),
    ("Wochenmärkte", "Wochenmarkt", ["ECON"],
     ["Märkte", "Markttage", "Marktstände"], "Ordnungsamt"),
    ("Brücken", "Brücke", ["TRAN"],
     ["Brückenbauwerke", "Bauwerksprüfung", "Ingenieurbauwerke"], "Tiefbauamt"),
    ("Straßenbeleuchtung", "Straßenlaterne", ["ENER", "TRAN"],
     ["Beleuchtung", "LED-Umrüstung", "Leuchtpunkte"], "Tiefbauamt"),
    ("Fahrradabstellanlagen", "Fahrradständer", ["TRAN"],
     ["Fahrradparken", "Radverkehr", "Bike-and-Ride"], "Stadtplanungsamt"),
    ("Arbeitslose nach Stadtteilen", "Arbeitslosenquote", ["ECON", "SOCI"],
     ["Arbeitsmarkt", "Arbeitslosigkeit", "SGB II"], "Amt für Statistik und Wahlen"),
    ("Geburten und Sterbefälle", "Geburtenzahl", ["SOCI", "HEAL"],
     ["Natürliche Bevölkerungsbewegung", "Geburten", "Sterbefälle"],
     "Amt für Statistik und Wahlen"),
    ("Mietspiegel", "Mietspiegel", ["ECON", "REGI"],
     ["Mieten", "Wohnen", "Vergleichsmiete"], "Amt für Wohnen"),
    ("Bodenrichtwerte", "Bodenrichtwert", ["ECON", "REGI"],
     ["Grundstückswerte", "Gutachterausschuss", "Immobilienmarkt"], "Gutachterausschuss"),
    ("Gewässer", "Gewässer", ["ENVI"],
     ["Bäche", "Gewässergüte", "Renaturierung", "Emscher"], "Umweltamt"),
    ("Wanderwege", "Wanderweg", ["EDUC", "ENVI"],
     ["Freizeit", "Tourismus", "Route der Industriekultur"], "Regionalverband Ruhr"),
    ("Hundekotbeutelspender", "Hundekotbeutelspender", ["ENVI"],
     ["Hunde", "Sauberkeit", "Stadtreinigung"], "Wirtschaftsbetriebe"),
    ("Sozialleistungen", "Sozialleistung", ["SOCI", "GOVE"],
     ["Wohngeld", "Grundsicherung", "Sozialamt"], "Sozialamt"),
    ("Gebäude", "Gebäude", ["REGI", "ENER"],
     ["Liegenschaften", "Gebäudebestand", "3D-Stadtmodell", "Energieverbrauch"],
     "Immobilienwirtschaft"),
]

GENERAL_KEYWORDS = [
    "Open Data", "Geodaten", "Statistik", "Verwaltung", "Ruhrgebiet", "Metropole Ruhr", "Karte",
    "Standorte", "Verkehr", "Umwelt", "Klima", "Klimaschutz", "Mobilität", "Infrastruktur",
    "Bildung", "Kultur", "Freizeit", "Soziales", "Wirtschaft", "Energie", "Gesundheit",
    "Sicherheit", "Stadtentwicklung", "Digitalisierung", "Smart City", "Zeitreihe", "Jahreswerte",
    "Monatswerte", "Tageswerte", "Echtzeitdaten", "Sensordaten", "Messdaten", "Verzeichnis",
    "Adressdaten", "Koordinaten", "WGS84", "ETRS89", "UTM32", "Stadtbezirke", "Stadtteile",
    "Ortsteile", "Quartiere", "Sozialraum", "Nachhaltigkeit", "Barrierefreiheit", "Tourismus",
    "Bürgerservice", "Ratsinformationen", "Politik", "Haushalt", "Finanzen", "Personal",
    "Beschaffung", "Vergabe", "Förderung", "Förderprogramme", "Ehrenamt", "Vereine",
    "Integration", "Migration", "Jugend", "Senioren", "Familie", "Pflege", "Wohnen",
    "Wohnungsmarkt", "Bauen", "Baugenehmigungen", "Kataster", "Liegenschaftskataster",
    "Luftbilder", "Orthofotos", "Stadtkarte", "Flurstücke", "Hausnummern", "Postleitzahlen",
    "Verkehrsnetz", "Straßenverkehr", "Fußverkehr", "Carsharing", "Bikesharing", "E-Scooter",
    "Taxi", "Lieferverkehr", "Güterverkehr", "Bahnhof", "S-Bahn", "Stadtbahn", "Straßenbahn",
    "Fahrplan", "GTFS", "Echtzeit", "Pegel", "Niederschlag", "Temperatur", "Wetter", "Hitze",
    "Stadtklima", "Bäume", "Biotope", "Naturschutz", "Landschaftsschutz", "Artenvielfalt",
    "Insekten", "Lärm", "Luft", "Wasser", "Boden", "Altlasten", "Abwasser", "Kanalnetz",
    "Energieverbrauch", "Strom", "Fernwärme", "Gasnetz", "Windenergie", "Solar",
    "Wärmeplanung", "Kommunale Wärmeplanung", "CO2", "Treibhausgase", "Emissionen",
    "Katastrophenschutz", "Zivilschutz", "Sirenen", "Notrufe", "Polizei", "Ordnung",
    "Veranstaltungen", "Märkte", "Kirmes", "Museen", "Theater", "Musikschule", "Volkshochschule",
    "Kinder", "Schüler", "Studierende", "Hochschulen", "Forschung", "Wissenschaft",
    "Arbeitsplätze", "Beschäftigte", "Pendlerströme", "Einzelhandel", "Leerstand",
    "Gastronomie", "Hotels", "Übernachtungen", "Industriekultur", "Zechen", "Halden",
    "Strukturwandel", "Flächenrecycling",
]

FORMATS = [("CSV", 30), ("JSON", 12), ("GEOJSON", 14), ("XLSX", 10), ("PDF", 10), ("WMS", 6),
           ("WFS", 6), ("SHP", 4), ("XML", 4), ("ZIP", 4)]
LICENSES = [("dl-by-de/2.0", 55), ("dl-zero-de/2.0", 20), ("cc-by/4.0", 10),
            ("cc-by-sa/4.0", 3), ("cc-zero", 4), ("odbl", 3), ("other-open", 3),
            ("other-closed", 2)]
FREQUENCIES = ["CONT", "DAILY", "WEEKLY", "MONTHLY", "QUARTERLY", "ANNUAL", "ANNUAL", "IRREG"]

TITLE_PATTERNS = [
    "{topic} in {city} {year}",
    "{topic} in {city} {year}",
    "{topic} {city} – Stadtbezirk {district}",
    "{city}: {topic} {year}",
    "{topic} im Stadtteil {district} ({year})",
    "Übersicht {topic} {city}",
    "{singular} {district} ({city})",
    "Standorte: {topic} in {city}",
]
OPENINGS = ["Der Datensatz enthält", "Die Tabelle zeigt", "Die Karte zeigt",
            "Der Datensatz beschreibt", "Diese Veröffentlichung umfasst", "Enthalten sind"]
SUBJECTS = ["die Standorte der {topic}", "eine Übersicht der {topic}", "den Bestand an {topic}",
            "die Anzahl der {topic}", "Angaben zu {topic}", "alle erfassten {topic}"]
PLACES = ["im Stadtgebiet von {city}", "im Stadtbezirk {district}", "in {city}",
          "im Stadtteil {district}", "in der Region"]
DETAILS = ["mit Adresse und Koordinaten", "mit Betreiber und Kategorie",
           "mit Öffnungszeiten und Ansprechpartnern", "nach Jahren gegliedert",
           "mit Angaben zur Barrierefreiheit", "als Zeitreihe ab {year}", ""]
SECOND = [
    "Die Daten werden {frequency} aktualisiert (zuständig: {office}).",
    "Die Daten stammen aus eigenen Erhebungen der Verwaltung ({office}).",
    "Grundlage sind Meldungen, die {frequency} zusammengeführt werden; Quelle: {office}.",
    "Die Daten werden {frequency} gepflegt und stehen zur freien Nachnutzung bereit.",
    "Verantwortlich für die Pflege: {office}.",
]
THIRD = [
    "Hinweise zur Erhebungsmethode finden sich in der beigefügten Dokumentation.",
    "Koordinaten liegen im Bezugssystem ETRS89/UTM32 vor.",
    "Ältere Jahrgänge sind auf Anfrage erhältlich.",
    "Fehler und Ergänzungen melden Sie bitte an das Open-Data-Team.",
    "Die Daten sind Teil der Open-Data-Strategie der Metropole Ruhr.",
    "Personenbezogene Angaben wurden vor der Veröffentlichung entfernt.",
]
FREQUENCY_WORDS = ["täglich", "wöchentlich", "monatlich", "quartalsweise", "jährlich",
                   "unregelmäßig"]


def _weighted(rng: random.Random, pairs: list[tuple[str, int]]) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


class Words:
    """Word forms of the German word list, drawn with a Zipf distribution (the rank of a word
    is its place in a fixed random permutation of the list)."""

    def __init__(self, seed: int = 42) -> None:
        if not WORDLIST.exists():
            raise SystemExit(WORDLIST_HELP)
        words = [w for w in WORDLIST.read_text(encoding="utf-8").split()
                 if w.isalpha() and len(w) >= 3]
        self.rng = np.random.default_rng(seed)
        self.words = [words[i] for i in self.rng.permutation(len(words))]
        weights = 1.0 / np.arange(1, len(self.words) + 1) ** ZIPF_EXPONENT
        self.cdf = np.cumsum(weights) / weights.sum()

    def draw(self, count: int) -> list[str]:
        ranks = np.searchsorted(self.cdf, self.rng.random(count))
        return [self.words[i] for i in np.minimum(ranks, len(self.words) - 1)]


# --------------------------------------------------------------------------------------------
# Generating
# --------------------------------------------------------------------------------------------


# The organizations as the datasets are generated for them: transient rows whose ids are those
# the fresh database assigns (checked in `seed`), so rows can be generated once for all backends.
ORGS = [Organization(id=i, slug=slug, name=name, ags=ags, contact_email=f"opendata@{slug}.example",
                     type="municipality" if ags else "region")
        for i, (slug, name, ags, *_rest) in enumerate(ORGANIZATIONS, start=1)]


@dataclass
class Generated:
    folder: Path
    chunks: int
    datasets: int
    resources: int
    keyword_pool: int
    word_forms: int  # distinct word forms of the word list used in titles, keywords, texts
    seconds: float
    reused: bool

    def rows(self) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
        for i in range(self.chunks):
            with open(self.folder / f"chunk-{i:05d}.pickle", "rb") as handle:
                yield pickle.load(handle)


def generate(n: int) -> Generated:
    """Every dataset and resource row, pickled in chunks; reused when generated before."""
    folder = Path(tempfile.gettempdir()) / "allmende-bench-search" / f"{n}-v{GENERATOR_VERSION}"
    summary = folder / "summary.json"
    if summary.exists():
        return Generated(folder=folder, reused=True, **json.loads(summary.read_text()))
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    started = time.perf_counter()
    keywords: set[str] = set()
    forms: set[str] = set()
    resources = chunks = 0
    chunk: tuple[list[dict[str, Any]], list[dict[str, Any]]] = ([], [])
    for row, res, drawn in _rows(random.Random(42), Words(), n):
        chunk[0].append(row)
        chunk[1].extend(res)
        keywords.update(row["keywords"])
        forms.update(drawn)
        resources += len(res)
        if len(chunk[0]) == CHUNK:
            _dump(folder, chunks, chunk)
            chunks, chunk = chunks + 1, ([], [])
    if chunk[0]:
        _dump(folder, chunks, chunk)
        chunks += 1
    values = {"chunks": chunks, "datasets": n, "resources": resources,
              "keyword_pool": len(keywords), "word_forms": len(forms),
              "seconds": time.perf_counter() - started}
    summary.write_text(json.dumps(values))
    return Generated(folder=folder, reused=False, **values)


def _dump(folder: Path, index: int, chunk: tuple[list[dict[str, Any]], list[dict[str, Any]]]
          ) -> None:
    with open(folder / f"chunk-{index:05d}.pickle", "wb") as handle:
        pickle.dump(chunk, handle, protocol=pickle.HIGHEST_PROTOCOL)


def _rows(rng: random.Random, words: Words, n: int
          ) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]], list[str]]]:
    """Dataset rows, their resource rows and the drawn words, with search terms as the
    service computes them."""
    by_slug = {o.slug: o for o in ORGS}
    shares = [entry[3] for entry in ORGANIZATIONS]
    cities = [entry[4] for entry in ORGANIZATIONS if entry[4]]
    districts_of = {entry[4]: entry[5] for entry in ORGANIZATIONS if entry[4]}
    general = list(dict.fromkeys(GENERAL_KEYWORDS))
    pool: list[str] = []
    for dataset_id in range(1, n + 1):
        if len(pool) < 32:
            pool.extend(words.draw(32 * CHUNK))
        slug, _name, _ags, _share, city, districts = rng.choices(ORGANIZATIONS, shares)[0]
        organization = by_slug[slug]
        if not city:  # the regional body publishes about every city of the region
            city = rng.choice(cities)
            districts = districts_of[city] if rng.random() < 0.7 else districts
        plural, singular, themes, topic_keywords, office = rng.choice(TOPICS)
        year = rng.randint(2015, 2025)
        values = {"topic": plural, "singular": singular, "city": city,
                  "district": rng.choice(districts), "year": year, "office": office,
                  "frequency": rng.choice(FREQUENCY_WORDS)}
        # Drawn words: one in most titles, one as a keyword, a sentence in the description.
        drawn = [pool.pop() for _ in range(2 + rng.randint(6, 14))]
        title = rng.choice(TITLE_PATTERNS).format(**values)
        if rng.random() < 0.6:
            title += f" – {drawn[0]}"
        subject = rng.choice(SUBJECTS).format(**values)
        detail = rng.choice(DETAILS).format(**values)
        sentences = [" ".join(w for w in (rng.choice(OPENINGS), subject,
                                          rng.choice(PLACES).format(**values), detail) if w)
                     + "."]
        sentences.append(rng.choice(SECOND).format(**values))
        sentences.append("Stichworte: " + ", ".join(drawn[2:]) + ".")
        if rng.random() < 0.6:
            sentences.append(rng.choice(THIRD))
        description = " ".join(sentences)
        count = rng.randint(2, 5)
        own = rng.sample(topic_keywords, min(len(topic_keywords), rng.randint(1, 2)))
        keywords = list(dict.fromkeys(own + rng.sample(general, count - len(own)) + drawn[1:2]))
        dataset_themes = themes[:1] if len(themes) == 1 or rng.random() < 0.5 else themes[:2]
        access = rng.random()
        access_level = "members" if access < 0.10 else "restricted" if access < 0.15 \
            else "public"
        modified = NOW - dt.timedelta(seconds=rng.randint(0, 6 * 365 * 86400))
        created = modified - dt.timedelta(seconds=rng.randint(0, 2 * 365 * 86400))
        resources = []
        formats = dict.fromkeys(rng.sample([f for f, _ in FORMATS], k=rng.randint(1, 3),
                                           counts=[w for _, w in FORMATS]))
        for position, fmt in enumerate(formats):
            name = f"{plural} {year} ({fmt})"
            resources.append({
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "dataset_id": dataset_id, "name": name, "description": "", "format": fmt,
                "url": f"https://opendata.{slug}.example/{dataset_id}/{position}.{fmt.lower()}",
                "kind": "link", "position": position, "created_at": created,
                "modified_at": modified,
            })
        strong, weak = search_terms(title, keywords, description, organization,
                                    [f"{r['name']} {r['format']}" for r in resources])
        row = {
            "id": dataset_id, "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{slug}/{dataset_id}")),
            "name": f"{slug}-{dataset_id:07d}", "title": title,
            "description": description, "organization_id": organization.id,
            "keywords": keywords, "themes": dataset_themes,
            "license": _weighted(rng, LICENSES), "contact_point": organization.contact_email,
            "issued": created.date(), "temporal_start": dt.date(year, 1, 1),
            "temporal_end": dt.date(year, 12, 31) if rng.random() < 0.5 else None,
            "spatial": political_geocoding_uri(organization.ags) if organization.ags else None,
            "update_frequency": rng.choice(FREQUENCIES), "language": "de",
            "access_level": access_level, "draft": rng.random() < 0.02,
            "created_at": created, "modified_at": modified, "created_by_id": None,
            "deleted_at": modified if rng.random() < 0.01 else None,
            "revision": dataset_id, "search_strong": strong, "search_weak": weak,
        }
        yield row, resources, drawn


# --------------------------------------------------------------------------------------------
# Seeding
# --------------------------------------------------------------------------------------------


@dataclass
class Seeded:
    seconds: float
    member: Actor
    member_token: str


def seed(platform: Platform, generated: Generated) -> Seeded:
    """Organizations and a logged-in editor through the services, then the bulk insert."""
    with platform.db.session() as session:
        orgs = [organizations.create_organization(session, OPERATOR, {
            "slug": o.slug, "name": o.name, "ags": o.ags, "type": o.type,
            "contact_email": o.contact_email}) for o in ORGS]
        assert [o.id for o in orgs] == [o.id for o in ORGS], "organization ids differ"
        user = accounts.create_user(session, "editor@bench.allmende.example", "bench-passwort-123",
                                    name="Bench Editor")
        dortmund = next(o for o in orgs if o.slug == "dortmund")
        accounts.set_membership(session, OPERATOR, user, dortmund, "editor")
        token = accounts.create_token(session, user.id, "bench").secret
        member = accounts.actor_for(user)
    assert member.roles == {dortmund.id: "editor"}, member.roles

    started = time.perf_counter()
    postgres = platform.db.engine.dialect.name == "postgresql"
    with platform.db.engine.begin() as connection:
        for dataset_rows, resource_rows in generated.rows():
            if postgres:
                _copy(connection, Dataset.__tablename__, dataset_rows)
                _copy(connection, Resource.__tablename__, resource_rows)
            else:
                connection.execute(insert(Dataset.__table__), dataset_rows)
                connection.execute(insert(Resource.__table__), resource_rows)
        connection.execute(update(CatalogState.__table__).where(CatalogState.id == 1)
                           .values(revision=generated.datasets))
    if postgres:
        with platform.db.engine.begin() as connection:  # COPY does not advance the sequence
            connection.execute(select(func.setval(func.pg_get_serial_sequence(
                Dataset.__tablename__, "id"), func.max(Dataset.id))))
        with platform.db.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sql("ANALYZE"))
    return Seeded(time.perf_counter() - started, member, token)


def _copy(connection: Any, table: str, rows: list[dict[str, Any]]) -> None:
    """COPY rows into a PostgreSQL table (JSON columns as JSON text)."""
    columns = list(rows[0])
    statement = pgsql.SQL("COPY {} ({}) FROM STDIN").format(
        pgsql.Identifier(table), pgsql.SQL(", ").join(map(pgsql.Identifier, columns)))
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([json.dumps(v, ensure_ascii=False) if isinstance(v, list) else v
                            for v in row.values()])
