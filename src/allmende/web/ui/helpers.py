"""Small pure helpers of the web UI: labels, URLs, text and date formatting, form parsing."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from fastapi import Request
from starlette.datastructures import FormData

from allmende.catalog.vocabularies import DCATDE_LICENSE_BASE, label
from allmende.errors import FieldError

TIMEZONE = "Europe/Berlin"


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated where it is shown."""
    return message


#: How a row condition (of a data request or an agreement) reads: its operator's sign or
#: words (English msgids), per code of ``access.requests.FILTER_OPS`` and the data API.
CONDITION_OPERATORS = {"eq": "=", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤",
                       "contains": N_("contains"), "in": N_("one of"),
                       "null": N_("is empty")}


FIELD_LABELS = {
    "title": N_("Title"),
    "name": N_("Identifier"),
    "organization": N_("Organization"),
    "description": N_("Description"),
    "keywords": N_("Keywords"),
    "themes": N_("Categories"),
    "license": N_("Licence"),
    "contact_point": N_("Contact point"),
    "issued": N_("Issued"),
    "temporal_start": N_("Period from"),
    "temporal_end": N_("Period until"),
    "spatial": N_("Spatial coverage"),
    "update_frequency": N_("Update frequency"),
    "language": N_("Language"),
    "access_level": N_("Access level"),
    "draft": N_("Draft"),
    "resource": N_("Resource"),
}

FACET_LABELS = {
    "organization": N_("Organization"),
    "theme": N_("Category"),
    "format": N_("Format"),
    "license": N_("Licence"),
    "access_level": N_("Access level"),
    "keyword": N_("Keyword"),
}

#: Facets whose values are what users wrote (the others are vocabularies of the interface).
USER_FACETS = frozenset({"organization", "keyword", "format"})

ORGANIZATION_FIELD_LABELS = {
    "name": N_("Name"),
    "type": N_("Type"),
    "ags": N_("Official municipality key (AGS)"),
    "description": N_("Description"),
    "logo_url": N_("Logo URL"),
    "contact_email": N_("Contact e-mail address"),
    "website": N_("Website"),
    "bbox": N_("Extent (WGS84)"),
    "area": N_("Area as GeoJSON"),
}

MEMBER_FIELD_LABELS = {"email": N_("E-mail address"), "role": N_("Role")}

ROLE_LABELS = {"admin": N_("Administrator"), "editor": N_("Editor"), "member": N_("Member")}

# The four number inputs of an organization's extent, in the order of its bbox.
BBOX_FIELDS = ("bbox_lon_min", "bbox_lat_min", "bbox_lon_max", "bbox_lat_max")

ACTIVITY_LABELS = {
    "created": N_("created the dataset"),
    "updated": N_("changed"),
    "deleted": N_("deleted the dataset"),
    "restored": N_("restored the dataset"),
    "resource_added": N_("added a resource"),
    "resource_deleted": N_("removed a resource"),
    "version_added": N_("uploaded a new version"),
    "mapping_saved": N_("saved a mapping to a shared schema"),
    "personal_data_decided": N_("decided on personal data"),
}


def vocab_label(vocabulary: dict[str, dict[str, str]], code: str | None, language: str) -> str:
    return label(vocabulary, code, language) if code else ""


def vocab_options(vocabulary: dict[str, dict[str, str]], language: str) -> list[tuple[str, str]]:
    return [(code, label(vocabulary, code, language)) for code in vocabulary]


def license_uri(code: str) -> str:
    return DCATDE_LICENSE_BASE + code


def format_date(value: dt.date | None, language: str) -> str:
    return babel_format_date(value, format="medium", locale=language) if value else ""


def format_datetime(value: dt.datetime | None, language: str) -> str:
    if value is None:
        return ""
    return babel_format_datetime(value, format="medium", tzinfo=TIMEZONE, locale=language)


def paragraphs(text: str | None) -> list[str]:
    """A plain text split into paragraphs at line breaks (escaped by the template)."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def excerpt(text: str | None, length: int = 220) -> str:
    text = " ".join((text or "").split())
    if len(text) <= length:
        return text
    return text[:length].rsplit(" ", 1)[0] + " …"


def url_with(request: Request, path: str | None = None, **changes: Any) -> str:
    """The current URL (or ``path``) with some query parameters replaced (None removes)."""
    items = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    for key, value in changes.items():
        if value is not None:
            items.append((key, str(value)))
    query = urlencode(items)
    return (path or request.url.path) + (f"?{query}" if query else "")


def is_selected(request: Request, facet: str, value: str) -> bool:
    return value in request.query_params.getlist(facet)


def toggle_url(request: Request, facet: str, value: str) -> str:
    """The search URL with one facet value switched on or off, back on the first page."""
    items = [(k, v) for k, v in request.query_params.multi_items() if k not in ("page", "lang")]
    if (facet, value) in items:
        items.remove((facet, value))
    else:
        items.append((facet, value))
    query = urlencode(items)
    return "/datasets" + (f"?{query}" if query else "")


def safe_next(target: str | None) -> str:
    """Only local paths are followed after login (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or re.search(r"[\x00-\x1f]", target):
        return "/"
    return target


def _optional(form: FormData, key: str) -> str | None:
    value = str(form.get(key) or "").strip()
    return value or None


def dataset_data(form: FormData, new: bool) -> dict[str, Any]:
    """The service's input from the dataset form."""
    keywords = str(form.get("keywords") or "")
    data: dict[str, Any] = {
        "title": str(form.get("title") or ""),
        "description": str(form.get("description") or ""),
        "keywords": [k.strip() for k in keywords.split(",") if k.strip()],
        "themes": [str(t) for t in form.getlist("themes")],
        "license": str(form.get("license") or ""),
        "contact_point": _optional(form, "contact_point"),
        "issued": _optional(form, "issued"),
        "temporal_start": _optional(form, "temporal_start"),
        "temporal_end": _optional(form, "temporal_end"),
        "spatial": _optional(form, "spatial"),
        "update_frequency": _optional(form, "update_frequency"),
        "language": str(form.get("language") or "de"),
        "access_level": str(form.get("access_level") or "public"),
        "draft": form.get("draft") is not None,
    }
    if new:
        data["name"] = str(form.get("name") or "").strip()
        data["organization"] = str(form.get("organization") or "")
    return data


def dataset_values(dataset: Any) -> dict[str, Any]:
    """The form's values for an existing dataset."""
    return {
        "title": dataset.title, "description": dataset.description,
        "keywords": ", ".join(dataset.keywords or []), "themes": list(dataset.themes or []),
        "license": dataset.license, "contact_point": dataset.contact_point or "",
        "issued": dataset.issued.isoformat() if dataset.issued else "",
        "temporal_start": dataset.temporal_start.isoformat() if dataset.temporal_start else "",
        "temporal_end": dataset.temporal_end.isoformat() if dataset.temporal_end else "",
        "spatial": dataset.spatial or "", "update_frequency": dataset.update_frequency or "",
        "language": dataset.language, "access_level": dataset.access_level,
        "draft": dataset.draft,
    }


def form_values(form: FormData) -> dict[str, Any]:
    """What the user entered, to fill the form again after an error."""
    values: dict[str, Any] = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    values["themes"] = [str(t) for t in form.getlist("themes")]
    values["draft"] = form.get("draft") is not None
    return values


def entered_values(form: FormData) -> dict[str, str]:
    """What the user entered in a form with single-valued fields, to fill it again."""
    return {k: str(v) for k, v in form.items() if k != "csrf_token"}


def organization_values(organization: Any) -> dict[str, Any]:
    """The organization form's values for an existing organization (the area is not
    pre-filled: an unchanged copy would override edits of the extent)."""
    values = {
        "name": organization.name, "type": organization.type, "ags": organization.ags or "",
        "description": organization.description or "", "logo_url": organization.logo_url or "",
        "contact_email": organization.contact_email or "", "website": organization.website or "",
        "area": "",
    }
    bbox = organization.bbox or [""] * 4
    values.update({field: str(value) for field, value in zip(BBOX_FIELDS, bbox, strict=True)})
    return values


def organization_changes(
    form: FormData, organization: Any, gettext: Callable[[str], str]
) -> tuple[dict[str, Any], list[FieldError]]:
    """The fields of the organization form that differ from the organization, for
    ``update_organization``, and the errors found before the service is asked."""
    problems: list[FieldError] = []
    entered: dict[str, Any] = {
        "name": str(form.get("name") or "").strip(),
        "type": str(form.get("type") or "").strip(),
        "description": str(form.get("description") or "").replace("\r\n", "\n").strip(),
        **{key: _optional(form, key) for key in ("ags", "logo_url", "contact_email", "website")},
    }
    numbers = [str(form.get(key) or "").strip().replace(",", ".") for key in BBOX_FIELDS]
    if not any(numbers):
        entered["bbox"] = None
    elif not all(numbers):
        problems.append(FieldError("bbox", gettext(
            "Enter all four values of the extent, or leave all four empty.")))
    else:
        try:
            entered["bbox"] = [float(number) for number in numbers]
        except ValueError:
            problems.append(FieldError("bbox", gettext(
                "The extent expects decimal numbers, e.g. 7.4653.")))
    changes = {k: v for k, v in entered.items() if v != getattr(organization, k)}
    area = str(form.get("area") or "").strip()
    if area:
        try:
            changes["area"] = json.loads(area)
        except ValueError:
            problems.append(FieldError("area", gettext(
                "This is not valid JSON. Paste a GeoJSON object such as "
                '{"type": "Polygon", "coordinates": [[[7.3, 51.4], …]]}.')))
    return changes, problems


def errors_by_field(field_errors: list[FieldError]) -> dict[str, list[str]]:
    """Field errors keyed by the top-level form field they belong to."""
    result: dict[str, list[str]] = {}
    for error in field_errors:
        key = error.field.split(".", 1)[0]
        result.setdefault(key, []).append(error.message)
    return result
