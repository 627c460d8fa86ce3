"""Parameter types of the REST API. Each one tells the OpenAPI document exactly what its
validation accepts (enumerations, patterns, bounds), so that a client knows before it asks and
Schemathesis can hold the document to it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path, Query
from pydantic import AfterValidator, Field

from allmende.access.policy import ACCESS_LEVELS
from allmende.catalog.datasets import KEYWORD_MAX_LENGTH, RESOURCE_FORMATS_MAX
from allmende.catalog.organizations import SLUG, check_slug
from allmende.catalog.search_index import SORTS
from allmende.catalog.vocabularies import LICENSES, THEMES

#: Ids are PostgreSQL integers; a larger number names nothing (and must not reach the database).
MAX_ID = 2**31 - 1

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Page = Annotated[int, Query(ge=1, le=MAX_ID, description="Seite, ab 1")]

# Facet values as the facets of a search answer name them; repeat a parameter for several.
Slug = Annotated[str, AfterValidator(check_slug),
                 Field(json_schema_extra={"pattern": SLUG.pattern})]
Theme = Literal[tuple(THEMES)]  # type: ignore[valid-type]
License = Literal[tuple(LICENSES)]  # type: ignore[valid-type]
AccessLevel = Literal[ACCESS_LEVELS]  # type: ignore[valid-type]
Sort = Literal[SORTS]  # type: ignore[valid-type]
ResourceFormat = Annotated[str, Field(max_length=RESOURCE_FORMATS_MAX)]
Keyword = Annotated[str, Field(max_length=KEYWORD_MAX_LENGTH)]
