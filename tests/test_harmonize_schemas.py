"""The shipped schemas and the Table Schema checker."""

from __future__ import annotations

import pytest

from allmende.errors import Invalid
from allmende.harmonize.registry import check_schema, load_schema, shipped_names


@pytest.mark.parametrize("name", ["ladesaeulen", "parkplaetze", "baustellen",
                                  "bildungsangebote", "einwohner"])
def test_shipped_schema_is_valid_and_documented(name: str) -> None:
    assert name in shipped_names()
    schema = check_schema(load_schema(name), name)
    assert schema["name"] == name and schema["version"] == "1.0.0"
    assert schema["title"] and schema["description"]
    for spec in schema["fields"]:
        assert spec["title"] and spec["description"] and "example" in spec, spec["name"]


@pytest.mark.parametrize(("schema", "field", "words"), [
    ({"fields": []}, "fields", "nicht leere Liste"),
    ({"fields": [{"name": "a"}, {"name": "a"}]}, "a", "doppelt"),
    ({"fields": [{"name": " "}]}, "fields[1]", "Namen"),
    ({"fields": [{"name": "a", "type": "zahl"}]}, "a", "unbekannter Typ"),
    ({"fields": [{"name": "a", "type": "integer", "constraints": {"pattern": "x"}}]}, "a",
     "passt nicht zum Typ"),
    ({"fields": [{"name": "a", "constraints": {"pattern": "(["}}]}, "a", "regulärer"),
    ({"fields": [{"name": "a", "constraints": {"maxLength": -1}}]}, "a", "ganze Zahl"),
    ({"fields": [{"name": "a", "constraints": {"enum": []}}]}, "a", "enum"),
    ({"fields": [{"name": "a"}], "primaryKey": ["b"]}, "primaryKey", "„b“"),
    ({"fields": [{"name": "a", "type": "date", "format": "any"}]}, "a", "nicht unterstützt"),
    ({"fields": [{"name": "a", "type": "number", "decimalChar": ",,"}]}, "a", "einzelnes"),
    ({"fields": [{"name": "a"}], "x-allmende": {"rules": [
        {"type": "greater-or-equal", "field": "a", "than": "z"}]}}, "x-allmende", "„z“"),
    ({"fields": [{"name": "a"}], "x-allmende": {"temporal": "a"}}, "x-allmende", "„a“"),
    ({"fields": [{"name": "a", "type": "date"}], "x-allmende": {"temporal": "b"}},
     "x-allmende", "„b“"),
])
def test_invalid_schemas_name_the_field(schema: dict, field: str, words: str) -> None:
    with pytest.raises(Invalid) as raised:
        check_schema(schema)
    assert any(e.field == field and words in e.message for e in raised.value.field_errors), \
        raised.value.field_errors
