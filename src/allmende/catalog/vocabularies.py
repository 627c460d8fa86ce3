"""Controlled vocabularies of DCAT-AP.de used by the catalog, with German and English labels."""

from __future__ import annotations

DCATDE_LICENSE_BASE = "http://dcat-ap.de/def/licenses/"
EU_THEME_BASE = "http://publications.europa.eu/resource/authority/data-theme/"
EU_FREQUENCY_BASE = "http://publications.europa.eu/resource/authority/frequency/"
DEFAULT_LICENSE = "dl-by-de/2.0"

# Licenses of the dcat-ap.de list (http://dcat-ap.de/def/licenses/) a municipality uses most.
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
    "cc-zero/1.0": {"de": "Creative Commons CC Zero 1.0 Universell",
                    "en": "Creative Commons CC Zero 1.0 Universal"},
    "odbl/1.0": {"de": "Open Data Commons Open Database License 1.0",
                 "en": "Open Data Commons Open Database License 1.0"},
    "other-closed": {"de": "Andere geschlossene Lizenz", "en": "Other closed licence"},
    "other-open": {"de": "Andere offene Lizenz", "en": "Other open licence"},
}

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


def political_geocoding_uri(ags: str) -> str:
    """The dcat-ap.de political geocoding URI of a municipality key (Gemeindeschlüssel)."""
    return f"http://dcat-ap.de/def/politicalGeocoding/municipalityKey/{ags}"
