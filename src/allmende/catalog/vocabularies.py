"""Controlled vocabularies of DCAT-AP.de used by the catalog, with German and English labels."""

from __future__ import annotations

from functools import cache
from pathlib import Path

DCATDE_LICENSE_BASE = "http://dcat-ap.de/def/licenses/"
EU_THEME_BASE = "http://publications.europa.eu/resource/authority/data-theme/"
EU_FREQUENCY_BASE = "http://publications.europa.eu/resource/authority/frequency/"
DEFAULT_LICENSE = "dl-by-de/2.0"

# The dcat-ap.de licence list (http://dcat-ap.de/def/licenses/, version 20200715), the
# licences a municipality uses most first. DCAT-AP.de 3.0 asks for these URIs on every
# distribution.
LICENSES: dict[str, dict[str, str]] = {
    "dl-by-de/2.0": {"de": "Datenlizenz Deutschland – Namensnennung – 2.0",
                     "en": "Data licence Germany – attribution – 2.0"},
    "dl-zero-de/2.0": {"de": "Datenlizenz Deutschland – Zero – 2.0",
                       "en": "Data licence Germany – Zero – 2.0"},
    "cc-by/4.0": {"de": "Creative Commons Namensnennung 4.0 International",
                  "en": "Creative Commons Attribution 4.0 International"},
    "cc-by-sa/4.0": {"de": "Creative Commons Namensnennung – Weitergabe unter gleichen "
                           "Bedingungen 4.0 International",
                     "en": "Creative Commons Attribution Share-Alike 4.0 International"},
    "cc-zero": {"de": "Creative Commons CC Zero", "en": "Creative Commons CC Zero"},
    "odbl": {"de": "Open Data Commons Open Database License (ODbL)",
             "en": "Open Data Commons Open Database License (ODbL)"},
    "officialWork": {"de": "Amtliches Werk, lizenzfrei nach § 5 Abs. 1 UrhG",
                     "en": "Official work, free of copyright (§ 5 (1) UrhG)"},
    "dl-by-de/1.0": {"de": "Datenlizenz Deutschland – Namensnennung – 1.0",
                     "en": "Data licence Germany – attribution – 1.0"},
    "dl-by-nc-de/1.0": {"de": "Datenlizenz Deutschland – Namensnennung – nicht-kommerziell "
                              "– 1.0",
                        "en": "Data licence Germany – attribution – non-commercial – 1.0"},
    "cc-by": {"de": "Creative Commons Namensnennung (CC BY)",
              "en": "Creative Commons Attribution (CC BY)"},
    "cc-by-de/3.0": {"de": "Creative Commons Namensnennung 3.0 Deutschland",
                     "en": "Creative Commons Attribution 3.0 Germany"},
    "cc-by-sa": {"de": "Creative Commons Namensnennung – Weitergabe unter gleichen "
                       "Bedingungen (CC BY-SA)",
                 "en": "Creative Commons Attribution Share-Alike (CC BY-SA)"},
    "cc-by-sa-de/3.0": {"de": "Creative Commons Namensnennung – Weitergabe unter gleichen "
                              "Bedingungen 3.0 Deutschland",
                        "en": "Creative Commons Attribution Share-Alike 3.0 Germany"},
    "cc-by-nc": {"de": "Creative Commons Namensnennung – Nicht kommerziell (CC BY-NC)",
                 "en": "Creative Commons Attribution Non-Commercial (CC BY-NC)"},
    "cc-by-nc/4.0": {"de": "Creative Commons Namensnennung – Nicht kommerziell 4.0 "
                           "International",
                     "en": "Creative Commons Attribution Non-Commercial 4.0 International"},
    "cc-by-nc-de/3.0": {"de": "Creative Commons Namensnennung – Nicht kommerziell 3.0 "
                              "Deutschland",
                        "en": "Creative Commons Attribution Non-Commercial 3.0 Germany"},
    "cc-by-nd": {"de": "Creative Commons Namensnennung – Keine Bearbeitung (CC BY-ND)",
                 "en": "Creative Commons Attribution No-Derivatives (CC BY-ND)"},
    "cc-by-nd/3.0": {"de": "Creative Commons Namensnennung – Keine Bearbeitung 3.0 Unported",
                     "en": "Creative Commons Attribution No-Derivatives 3.0 Unported"},
    "cc-by-nd/4.0": {"de": "Creative Commons Namensnennung – Keine Bearbeitung 4.0 "
                           "International",
                     "en": "Creative Commons Attribution No-Derivatives 4.0 International"},
    "ccpdm/1.0": {"de": "Public Domain Mark 1.0", "en": "Public Domain Mark 1.0"},
    "odby": {"de": "Open Data Commons Attribution License (ODC-BY 1.0)",
             "en": "Open Data Commons Attribution License (ODC-BY 1.0)"},
    "odcpddl": {"de": "Open Data Commons Public Domain Dedication and Licence (ODC PDDL)",
                "en": "Open Data Commons Public Domain Dedication and Licence (ODC PDDL)"},
    "geonutz/20130319": {"de": "Nutzungsbestimmungen für die Bereitstellung von Geodaten "
                               "des Bundes",
                         "en": "Terms of use for geodata of the Federal Government"},
    "geoNutz/20131001": {"de": "Nutzungsbestimmungen für die Bereitstellung von Geodaten "
                               "des Landes Berlin",
                         "en": "Terms of use for geodata of the State of Berlin"},
    "apache": {"de": "Freie Softwarelizenz der Apache Software Foundation",
               "en": "Apache Software Foundation licence"},
    "bsd": {"de": "BSD-Lizenz", "en": "BSD licence"},
    "gfdl": {"de": "GNU Free Documentation License (GFDL)",
             "en": "GNU Free Documentation License (GFDL)"},
    "gpl/3.0": {"de": "GNU General Public License 3.0", "en": "GNU General Public License 3.0"},
    "mozilla": {"de": "Mozilla Public License 2.0", "en": "Mozilla Public License 2.0"},
    "other-open": {"de": "Andere offene Lizenz", "en": "Other open licence"},
    "other-opensource": {"de": "Andere Open-Source-Lizenz", "en": "Other open-source licence"},
    "other-freeware": {"de": "Andere Freeware-Lizenz", "en": "Other freeware licence"},
    "other-commercial": {"de": "Andere kommerzielle Lizenz", "en": "Other commercial licence"},
    "other-closed": {"de": "Andere geschlossene Lizenz", "en": "Other closed licence"},
}
# Codes allmende once offered that are not on the list, and the list's code for them (older
# clients may still send them).
LICENSE_ALIASES = {"cc-zero/1.0": "cc-zero", "odbl/1.0": "odbl"}
# Licences that ask users to name the publisher (dcatde:licenseAttributionByText).
ATTRIBUTION_LICENSES = frozenset(code for code in LICENSES if "-by" in code or code in (
    "odby", "odbl"))

# EU data themes (http://publications.europa.eu/resource/authority/data-theme).
THEMES: dict[str, dict[str, str]] = {
    "AGRI": {"de": "Landwirtschaft, Fischerei, Forstwirtschaft und Nahrungsmittel",
             "en": "Agriculture, fisheries, forestry and food"},
    "ECON": {"de": "Wirtschaft und Finanzen", "en": "Economy and finance"},
    "EDUC": {"de": "Bildung, Kultur und Sport", "en": "Education, culture and sport"},
    "ENER": {"de": "Energie", "en": "Energy"},
    "ENVI": {"de": "Umwelt", "en": "Environment"},
    "GOVE": {"de": "Regierung und öffentlicher Sektor", "en": "Government and public sector"},
    "HEAL": {"de": "Gesundheit", "en": "Health"},
    "INTR": {"de": "Internationale Themen", "en": "International issues"},
    "JUST": {"de": "Justiz, Rechtssystem und öffentliche Sicherheit",
             "en": "Justice, legal system and public safety"},
    "REGI": {"de": "Regionen und Städte", "en": "Regions and cities"},
    "SOCI": {"de": "Bevölkerung und Gesellschaft", "en": "Population and society"},
    "TECH": {"de": "Wissenschaft und Technologie", "en": "Science and technology"},
    "TRAN": {"de": "Verkehr", "en": "Transport"},
}

# EU frequencies (http://publications.europa.eu/resource/authority/frequency).
FREQUENCIES: dict[str, dict[str, str]] = {
    "CONT": {"de": "kontinuierlich", "en": "continuous"},
    "DAILY": {"de": "täglich", "en": "daily"},
    "WEEKLY": {"de": "wöchentlich", "en": "weekly"},
    "MONTHLY": {"de": "monatlich", "en": "monthly"},
    "QUARTERLY": {"de": "vierteljährlich", "en": "quarterly"},
    "ANNUAL": {"de": "jährlich", "en": "annual"},
    "IRREG": {"de": "unregelmäßig", "en": "irregular"},
    "NEVER": {"de": "nie", "en": "never"},
    "UNKNOWN": {"de": "unbekannt", "en": "unknown"},
}

ACCESS_LEVELS: dict[str, dict[str, str]] = {
    "public": {"de": "Offen (Open Data)", "en": "Public (open data)"},
    "members": {"de": "Nur Mitglieder der Allianz", "en": "Alliance members only"},
    "restricted": {"de": "Eingeschränkt (nur mit Vereinbarung)",
                   "en": "Restricted (agreement required)"},
}

ORGANIZATION_TYPES: dict[str, dict[str, str]] = {
    "municipality": {"de": "Kommune", "en": "Municipality"},
    "district": {"de": "Kreis", "en": "District"},
    "region": {"de": "Regionaler Verbund", "en": "Regional body"},
    "company": {"de": "Unternehmen", "en": "Company"},
    "research": {"de": "Forschung", "en": "Research"},
}

LANGUAGES: dict[str, dict[str, str]] = {
    "de": {"de": "Deutsch", "en": "German"},
    "en": {"de": "Englisch", "en": "English"},
}


def label(vocabulary: dict[str, dict[str, str]], code: str, language: str = "de") -> str:
    entry = vocabulary.get(code)
    return entry.get(language, entry["de"]) if entry else code


POLITICAL_GEOCODING_BASE = "http://dcat-ap.de/def/politicalGeocoding/"


def political_geocoding_uri(ags: str) -> str:
    """The dcat-ap.de political geocoding URI of a municipality key (Gemeindeschlüssel)."""
    return f"{POLITICAL_GEOCODING_BASE}municipalityKey/{ags}"


# The key types of dcat-ap.de's political geocoding and the level each one names.
_GEOCODING_LEVELS = {"stateKey": "state", "governmentDistrictKey": "administrativeDistrict",
                     "districtKey": "district", "municipalityKey": "municipality",
                     "regionalKey": "municipality"}


@cache  # a catalog holds few distinct places
def political_geocoding_level(uri: str) -> str | None:
    """The dcat-ap.de level URI (…/politicalGeocoding/Level/…) of a political geocoding URI;
    None for any other spatial URI."""
    if not uri.startswith(POLITICAL_GEOCODING_BASE):
        return None
    level = _GEOCODING_LEVELS.get(uri[len(POLITICAL_GEOCODING_BASE):].split("/", 1)[0])
    return f"{POLITICAL_GEOCODING_BASE}Level/{level}" if level else None


# --- DCAT-AP.de output: the EU authority tables and lists a catalog refers to ----------------

EU_LANGUAGE_BASE = "http://publications.europa.eu/resource/authority/language/"
EU_ACCESS_RIGHT_BASE = "http://publications.europa.eu/resource/authority/access-right/"
EU_FILE_TYPE_BASE = "http://publications.europa.eu/resource/authority/file-type/"
IANA_MEDIA_TYPE_BASE = "https://www.iana.org/assignments/media-types/"
ADMS_PUBLISHER_TYPE_BASE = "http://purl.org/adms/publishertype/"
DCATDE_CONTRIBUTOR_BASE = "http://dcat-ap.de/def/contributors/"

LANGUAGE_CODES = {"de": "DEU", "en": "ENG"}  # our languages in the EU language table
# The access levels as EU access rights: members-only data is not published at all,
# restricted data is available under conditions (an agreement).
ACCESS_RIGHTS = {"public": "PUBLIC", "members": "NON_PUBLIC", "restricted": "RESTRICTED"}
PUBLISHER_TYPES = {"municipality": "LocalAuthority", "district": "LocalAuthority",
                   "region": "RegionalAuthority", "company": "Company",
                   "research": "Academia-ScientificOrganisation"}

# Resource formats as people write them that are not themselves a code of the EU table.
_FILE_TYPE_ALIASES = {
    "WMS": "WMS_SRVC", "WFS": "WFS_SRVC", "WMTS": "WMTS_SRVC", "WCS": "WCS_SRVC",
    "TTL": "RDF_TURTLE", "TURTLE": "RDF_TURTLE", "NT": "RDF_N_TRIPLES", "JSONLD": "JSON_LD",
    "JPG": "JPEG", "TIF": "TIFF", "HTM": "HTML", "MD": "MARKDOWN", "YML": "YAML",
    "GZ": "GZIP", "TGZ": "TAR_GZ", "GEOPACKAGE": "GPKG", "SHAPE": "SHP", "TAB": "TSV",
}
_MEDIA_TYPES = {
    "CSV": "text/csv", "TSV": "text/tab-separated-values", "JSON": "application/json",
    "GEOJSON": "application/geo+json", "JSON_LD": "application/ld+json",
    "XML": "application/xml", "GML": "application/gml+xml", "HTML": "text/html",
    "TXT": "text/plain", "PDF": "application/pdf", "ZIP": "application/zip",
    "XLS": "application/vnd.ms-excel",
    "XLSX": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ODS": "application/vnd.oasis.opendocument.spreadsheet",
    "PARQUET": "application/vnd.apache.parquet", "RDF_XML": "application/rdf+xml",
    "RDF_TURTLE": "text/turtle", "KML": "application/vnd.google-earth.kml+xml",
    "GPKG": "application/geopackage+sqlite3", "PNG": "image/png", "JPEG": "image/jpeg",
}


@cache
def file_types() -> frozenset[str]:
    """The codes of the EU file-type table (shipped in file_types.txt)."""
    text = (Path(__file__).parent / "file_types.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


@cache  # a catalog holds few distinct formats
def file_type(resource_format: str) -> str | None:
    """The EU file-type code of a resource format (``CSV``, ``GeoJSON``, ``wms``, ``.xlsx``);
    None when the table has none for it."""
    code = resource_format.strip().lstrip(".").upper().replace("-", "_").replace(" ", "_")
    code = _FILE_TYPE_ALIASES.get(code, code)
    return code if code in file_types() else None


def media_type(file_type_code: str) -> str | None:
    """The IANA media type URI of an EU file type, where there is one."""
    found = _MEDIA_TYPES.get(file_type_code)
    return IANA_MEDIA_TYPE_BASE + found if found else None
