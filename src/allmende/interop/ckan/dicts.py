"""Catalog records as the dictionaries CKAN 2.11 clients read (package_show, resource_show,
organization_show, group_show): the keys CKAN always sends, with allmende's values.

Ids: a dataset's ``id`` is its stable UUID and a resource's its id; organizations, groups (the
EU data themes) and tags have no UUID of their own here, so theirs are derived from their name
(UUID v5), stable as long as the name is.
"""

from __future__ import annotations

import datetime as dt
import uuid
from functools import lru_cache
from typing import Any

from allmende.catalog.records import DatasetRecord, OrganizationRecord, ResourceRecord
from allmende.catalog.validation import EMAIL
from allmende.catalog.vocabularies import (
    DCATDE_LICENSE_BASE,
    EU_FREQUENCY_BASE,
    EU_THEME_BASE,
    LICENSES,
    THEMES,
    label,
)
from allmende.interop.links import DOWNLOAD_FORMATS, Links

_NAMESPACE = uuid.UUID("6f1c7d2e-55a4-4c1e-9a57-0d6b3e7f2a10")
CLOSED_LICENSES = frozenset({"other-closed"})


@lru_cache(maxsize=100_000)
def derived_id(kind: str, name: str) -> str:
    """The UUID of an organization, group or tag: derived from its kind and name."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{name}"))


def timestamp(moment: dt.datetime | None) -> str | None:
    """CKAN's form: ISO 8601 in UTC without offset, with microseconds."""
    if moment is None:
        return None
    if moment.utcoffset():
        moment = moment.astimezone(dt.UTC)
    return moment.isoformat(timespec="microseconds").removesuffix("+00:00")


def organization_dict(organization: OrganizationRecord, links: Links,
                      package_count: int | None = None) -> dict[str, Any]:
    found = {
        "id": derived_id("organization", organization.slug), "name": organization.slug,
        "title": organization.name, "display_name": organization.name,
        "description": organization.description, "type": "organization",
        "is_organization": True, "state": "active", "approval_status": "approved",
        "image_url": organization.logo_url or "",
        "image_display_url": organization.logo_url or "",
        "created": timestamp(organization.created), "url": organization.website or "",
        "num_followers": 0,
        "extras": [{"key": k, "value": v} for k, v in (
            ("ags", organization.ags), ("email", organization.email),
            ("organization_type", organization.type),
            ("page", links.organization_page(organization.slug))) if v],
    }
    if package_count is not None:
        found["package_count"] = package_count
    return found


def group_dict(code: str, language: str, package_count: int | None = None) -> dict[str, Any]:
    """An EU data theme as a CKAN group, named by its code in lower case (as GovData does)."""
    title = label(THEMES, code, language)
    found = {
        "id": derived_id("group", code.lower()), "name": code.lower(), "title": title,
        "display_name": title, "description": "", "type": "group", "is_organization": False,
        "state": "active", "approval_status": "approved", "image_url": "",
        "image_display_url": "", "url": EU_THEME_BASE + code, "num_followers": 0,
    }
    if package_count is not None:
        found["package_count"] = package_count
    return found


def tag_dict(name: str) -> dict[str, Any]:
    return {"id": derived_id("tag", name), "name": name, "display_name": name,
            "state": "active", "vocabulary_id": None}


def resource_dict(dataset: DatasetRecord, resource: ResourceRecord,
                  links: Links) -> dict[str, Any]:
    """A table is downloaded in its own format where it can be exported so, else as CSV; a
    file without a published version yet links to its page."""
    url = resource.url
    if resource.table is not None:
        own = resource.format.lower()
        url = links.download(resource.id, own if own in DOWNLOAD_FORMATS else "csv")
    elif url is None:
        url = links.resource_page(resource.id)
    table = resource.table
    return {
        "id": resource.id, "package_id": dataset.uuid, "name": resource.name,
        "description": resource.description, "format": resource.format, "url": url,
        "url_type": "upload" if resource.kind == "file" else None,
        "mimetype": None, "size": None, "hash": "", "position": resource.position,
        "state": "active", "resource_type": None, "cache_url": None,
        "created": timestamp(resource.created),
        "last_modified": timestamp(table.published if table else resource.modified),
        "metadata_modified": timestamp(resource.modified),
        "datastore_active": table is not None,
        "rows": table.rows if table else None,
        "version": table.version if table else None,
    }


def package_dict(dataset: DatasetRecord, links: Links, language: str) -> dict[str, Any]:
    contact = dataset.contact_point
    tags = [tag_dict(k) for k in dataset.keywords]
    return {
        "id": dataset.uuid, "name": dataset.name, "title": dataset.title,
        "notes": dataset.description, "type": "dataset", "private": not dataset.public,
        "state": "deleted" if dataset.deleted else "active",
        "url": links.dataset_page(dataset.name), "version": None,
        "author": None, "author_email": None, "maintainer": dataset.organization.name,
        "maintainer_email": contact if contact and EMAIL.match(contact) else None,
        "license_id": dataset.license, "license_title": label(LICENSES, dataset.license,
                                                              language),
        "license_url": DCATDE_LICENSE_BASE + dataset.license,
        "isopen": dataset.license not in CLOSED_LICENSES,
        "metadata_created": timestamp(dataset.created),
        "metadata_modified": timestamp(dataset.modified),
        "creator_user_id": None,
        "owner_org": derived_id("organization", dataset.organization.slug),
        "organization": organization_dict(dataset.organization, links),
        "groups": [group_dict(code, language) for code in dataset.themes],
        "tags": tags, "num_tags": len(tags),
        "resources": [resource_dict(dataset, r, links) for r in dataset.resources],
        "num_resources": len(dataset.resources),
        "extras": [{"key": k, "value": v} for k, v in _extras(dataset) if v],
        "relationships_as_object": [], "relationships_as_subject": [],
    }


def _extras(dataset: DatasetRecord) -> list[tuple[str, str | None]]:
    """DCAT-AP fields CKAN has no key for, named as ckanext-dcat names them."""
    return [
        ("access_rights", dataset.access_level),
        ("contact_uri", dataset.contact_point),
        ("frequency", EU_FREQUENCY_BASE + dataset.update_frequency
         if dataset.update_frequency else None),
        ("issued", dataset.issued.isoformat() if dataset.issued else None),
        ("language", dataset.language),
        ("spatial_uri", dataset.spatial),
        ("temporal_start", dataset.temporal_start.isoformat()
         if dataset.temporal_start else None),
        ("temporal_end", dataset.temporal_end.isoformat() if dataset.temporal_end else None),
        ("theme", " ".join(EU_THEME_BASE + t for t in dataset.themes) or None),
    ]
