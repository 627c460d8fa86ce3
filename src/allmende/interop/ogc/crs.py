"""The coordinate reference systems of OGC API Features Part 2: named by their OGC URIs,
given in ``crs`` and ``bbox-crs``, answered in ``Content-Crs``. Tables store WGS84
longitude/latitude, which is CRS84, the default; coordinates in another CRS come in that
CRS's own axis order (latitude first for EPSG:4258 and EPSG:4326), as Part 2 asks."""

from __future__ import annotations

import re

from allmende.errors import FieldError, Invalid, msg

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
#: OGC URI → the code the table reader takes.
SUPPORTED: dict[str, str] = {
    CRS84: "OGC:CRS84",
    f"{_EPSG}25832": "EPSG:25832",
    f"{_EPSG}4258": "EPSG:4258",
    f"{_EPSG}3857": "EPSG:3857",
    f"{_EPSG}4326": "EPSG:4326",
}
_SHORT = re.compile(r"\[?(?:urn:ogc:def:crs:)?(EPSG|OGC)(?::[0-9.]*)?::?([0-9A-Z]+)\]?",
                    re.IGNORECASE)


def parse(text: str, param: str) -> str:
    """The OGC URI of a CRS given as URI (``http://www.opengis.net/def/crs/EPSG/0/25832``),
    as safe CURIE ``[EPSG:25832]``, URN or ``EPSG:25832``; Invalid naming ``param``
    otherwise."""
    value = text.strip().replace("https://", "http://", 1)
    if value in SUPPORTED:
        return value
    short = _SHORT.fullmatch(value)
    if short is not None:
        authority, code = short.group(1).upper(), short.group(2).upper()
        uri = CRS84 if (authority, code) == ("OGC", "CRS84") else f"{_EPSG}{code}"
        if uri in SUPPORTED and (authority == "EPSG" or uri == CRS84):
            return uri
    raise Invalid(msg("Das Koordinatenreferenzsystem ist ungültig."), [FieldError(
        param, msg("„{crs}“ wird nicht unterstützt; erlaubt sind {allowed}.", crs=text,
                   allowed=", ".join(SUPPORTED)))])


def code(uri: str) -> str:
    return SUPPORTED[uri]


def header(uri: str) -> str:
    """The ``Content-Crs`` header's value."""
    return f"<{uri}>"
