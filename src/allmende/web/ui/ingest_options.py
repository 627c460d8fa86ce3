"""The choices of the upload form and the names of what the ingest reports (labels are
translated where they are shown)."""

from __future__ import annotations

from typing import Any

from allmende.web.ui.helpers import N_

# What the upload form offers; the values are what the API expects ("auto" forgets a
# remembered option).
ENCODINGS = [("auto", N_("automatic")), ("utf-8", "UTF-8"), ("cp1252", "Windows-1252 (cp1252)"),
             ("latin-1", "ISO-8859-1 (latin-1)"), ("utf-16", "UTF-16")]
DELIMITERS = [("auto", N_("automatic")), (";", N_("Semicolon ;")), (",", N_("Comma ,")),
              ("\t", N_("Tab")), ("|", N_("Vertical bar |"))]
CRS_OPTIONS = [("auto", N_("automatic")), ("EPSG:4326", "EPSG:4326 (WGS 84)"),
               ("EPSG:25832", "EPSG:25832 (ETRS89 / UTM 32N)"),
               ("EPSG:25833", "EPSG:25833 (ETRS89 / UTM 33N)"),
               ("EPSG:31466", N_("EPSG:31466 (Gauss-Kruger zone 2)")),
               ("EPSG:31467", N_("EPSG:31467 (Gauss-Kruger zone 3)")),
               ("EPSG:3857", "EPSG:3857 (Web Mercator)")]
FORMAT_LABELS = {"csv": "CSV", "csv-de": N_("CSV (German Excel)"), "json": "JSON",
                 "geojson": "GeoJSON", "parquet": "Parquet", "xlsx": N_("Excel (xlsx)")}
DELIMITER_NAMES = {";": N_("Semicolon ;"), ",": N_("Comma ,"), "\t": N_("Tab"),
                   "|": N_("Vertical bar |"), " ": N_("Space")}


def upload_options() -> dict[str, Any]:
    """The choices of the upload form (labels still to be translated)."""
    return {"encodings": ENCODINGS, "delimiters": DELIMITERS, "crs_options": CRS_OPTIONS}


