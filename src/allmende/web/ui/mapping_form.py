"""The mapping editor's form: a mapping shown as its groups (repeated column groups turned
into rows) and one row per schema field, and the submitted form read back into a mapping.

All of a field's transforms travel through the form as hidden JSON, so steps a person cannot
edit here (geometry, number formats) survive a preview; the key parameters a person may edit
(date format, scale factor, value map, split pattern and group, how several columns combine —
joined with a separator or the first with a value —, prefix, the coordinate system of x/y
columns) come as inputs of their own and replace, add or remove the step of their kind.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from allmende.errors import FieldError
from allmende.harmonize.mapping import (
    DEFAULT_GROUP,
    FieldRule,
    default_identifier,
    describe_rule,
    stated,
)

# Where a step added in the form goes among the others: the order apply_mapping expects.
KIND_ORDER = ("geometry", "crs", "join", "fallback", "split", "prefix", "number", "scale",
              "value_map", "date", "datetime")
# What a CRS step yields for a field: the geometry, or one coordinate of the point.
LONGITUDE_NAMES = frozenset({"laengengrad", "laenge", "lon", "lng", "longitude"})
LATITUDE_NAMES = frozenset({"breitengrad", "breite", "lat", "latitude"})
DATE_KINDS = {"date": "date", "datetime": "datetime"}
NUMBER_TYPES = frozenset({"number", "integer"})
MAX_GROUPS = 20
Gettext = Callable[[str], str]


@dataclass
class FieldRow:
    """One schema field in the editor: the schema's description and the rule's inputs."""

    name: str
    title: str
    description: str
    example: str
    type: str
    required: bool
    sources: list[str]
    constant: str
    transforms: str  # JSON of all transforms
    summary: str
    date_kind: str | None  # "date"/"datetime" for temporal fields, else no date input
    date_format: str
    scale: str
    value_map: str
    split_pattern: str
    split_group: str
    join_separator: str | None  # None: the field joins no columns
    combine: str | None  # several columns: "join" or "fallback"; None for one column
    prefix: str
    crs: str  # source CRS of x/y columns ("" without a CRS step)
    confidence: float | None
    reason: str  # German, a Message where its template was kept
    reason_i18n: str  # the template of the reason as JSON ("" without one)
    suggested: str  # the source columns the confidence speaks about

    @property
    def can_join(self) -> bool:
        return self.type == "string"

    @property
    def takes_coordinates(self) -> bool:
        return crs_output(self.name, self.type) is not None


def crs_output(name: str, type_: str) -> str | None:
    """The CRS step's output for a field: a WKT point, its longitude or latitude; None for
    fields that hold no coordinates."""
    if type_ == "geometry":
        return "wkt"
    if type_ == "number" and name in LONGITUDE_NAMES:
        return "lon"
    if type_ == "number" and name in LATITUDE_NAMES:
        return "lat"
    return None


def _kind(transforms: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    return next((t for t in transforms if t.get("kind") == kind), None)


def _join_separator(transforms: list[dict[str, Any]], sources: list[str]) -> str | None:
    """The separator input's value; None where the field joins nothing (or uses CRS, which
    takes its two columns as x and y, or takes the first column with a value)."""
    if _kind(transforms, "crs") or _kind(transforms, "fallback"):
        return None
    join = _kind(transforms, "join")
    if join:
        return str(join.get("separator", " "))
    return " " if len(sources) > 1 else None


def _combine(transforms: list[dict[str, Any]], sources: list[str]) -> str | None:
    if _kind(transforms, "crs"):
        return None
    if _kind(transforms, "fallback"):
        return "fallback"
    return "join" if _kind(transforms, "join") or len(sources) > 1 else None


def _summary(rule: Mapping[str, Any]) -> str:
    try:
        return describe_rule(FieldRule.model_validate(rule))
    except ValidationError:
        return ""  # the errors are shown next to the field


def field_row(spec: Mapping[str, Any], rule: Mapping[str, Any],
              raw: FormData | None = None) -> FieldRow:
    """The row of one schema field; ``raw`` (a submitted form) wins over the rule, so what a
    person typed is shown again even where it could not be read."""
    name = spec["name"]
    transforms = list(rule.get("transforms") or [])
    date_kind = DATE_KINDS.get(spec.get("type", "string"))
    split = _kind(transforms, "split") or {}
    values = _kind(transforms, "value_map") or {}
    scale = _kind(transforms, "scale")
    sources = list(rule.get("source") or [])
    row = FieldRow(
        name=name, title=spec.get("title") or name, description=spec.get("description", ""),
        example=str(spec.get("example", "")), type=spec.get("type", "string"),
        required=bool((spec.get("constraints") or {}).get("required")), sources=sources,
        constant=rule.get("constant") or "", transforms=json.dumps(transforms),
        summary=_summary(rule), date_kind=date_kind,
        date_format=(_kind(transforms, date_kind) or {}).get("format", "") if date_kind else "",
        scale=f"{scale['factor']:g}" if scale else "",
        value_map="\n".join(f"{k}={v}" for k, v in (values.get("values") or {}).items()),
        split_pattern=split.get("pattern", ""), split_group=str(split.get("group", "")),
        join_separator=_join_separator(transforms, sources),
        combine=_combine(transforms, sources),
        prefix=(_kind(transforms, "prefix") or {}).get("prefix", ""),
        crs=(_kind(transforms, "crs") or {}).get("source_crs", ""),
        confidence=rule.get("confidence"),
        reason=stated(rule.get("reason") or "", rule.get("reason_i18n")),
        reason_i18n=json.dumps(rule["reason_i18n"]) if rule.get("reason_i18n") else "",
        suggested="\n".join(sources))
    if raw is not None:
        _keep_typed(row, raw)
    return row


def _keep_typed(row: FieldRow, raw: FormData) -> None:
    for attribute in ("date_format", "scale", "value_map", "split_pattern", "split_group",
                      "constant", "prefix", "crs", "combine"):
        value = raw.get(f"{attribute}:{row.name}")
        if value is not None:
            setattr(row, attribute, str(value))
    if raw.get(f"transforms:{row.name}") is not None:
        row.transforms = str(raw[f"transforms:{row.name}"])
    row.suggested = str(raw.get(f"suggested:{row.name}") or "")


def field_rows(schema: Mapping[str, Any], rules: Mapping[str, Mapping[str, Any]],
               raw: FormData | None = None) -> list[FieldRow]:
    return [field_row(spec, rules.get(spec["name"]) or {}, raw) for spec in schema["fields"]]


# --- reading the form -----------------------------------------------------------------------

def _text(form: FormData, key: str) -> str | None:
    value = form.get(key)
    return None if value is None else str(value)


def _sources(form: FormData, name: str) -> list[str]:
    chosen = [str(v) for v in form.getlist(f"source:{name}") if str(v)]
    return list(dict.fromkeys(chosen))


def _value_map(text: str, _: Gettext) -> dict[str, str]:
    values = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError(_("Value map, line %(number)s: write source=target, e.g. "
                               "ja=true.") % {"number": number})
        values[key.strip()] = value.strip()
    return values


def _number(text: str) -> float:
    return float(text.strip().replace(",", "."))


def _edits(form: FormData, name: str, spec: Mapping[str, Any], sources: list[str],
           _: Gettext) -> dict[str, dict[str, Any] | None]:
    """The parameters submitted for ``name``: per transform kind its new parameters, or None
    to remove the step. Kinds without an input in the form stay as they are."""
    edits: dict[str, dict[str, Any] | None] = {}
    date_kind = DATE_KINDS.get(spec.get("type", "string"))
    if date_kind and (text := _text(form, f"date_format:{name}")) is not None:
        edits[date_kind] = {"format": text.strip()} if text.strip() else None
    if (text := _text(form, f"scale:{name}")) is not None:
        try:
            edits["scale"] = {"factor": _number(text)} if text.strip() else None
        except ValueError:
            raise ValueError(_("The scale factor must be a number, e.g. 0.001.")) from None
    if (text := _text(form, f"value_map:{name}")) is not None:
        values = _value_map(text, _)
        edits["value_map"] = {"values": values} if values else None
    if (pattern := _text(form, f"split_pattern:{name}")) is not None:
        group = (_text(form, f"split_group:{name}") or "").strip() or "1"
        if not group.isdigit():
            raise ValueError(_("The group of the pattern must be a whole number, e.g. 1."))
        edits["split"] = {"pattern": pattern, "group": int(group)} if pattern.strip() else None
    if (text := _text(form, f"prefix:{name}")) is not None:
        edits["prefix"] = {"prefix": text} if text.strip() else None
    output = crs_output(name, spec.get("type", "string"))
    if output and (text := _text(form, f"crs:{name}")) is not None:
        edits["crs"] = {"source_crs": text.strip(), "output": output} if text.strip() else None
    if _text(form, f"combine:{name}") == "fallback":
        edits["fallback"], edits["join"] = {}, None
    elif (separator := _text(form, f"join:{name}")) is not None or len(sources) > 1:
        edits["join"] = {"separator": " " if separator is None else separator}
        edits["fallback"] = None
    return edits


def _apply_edits(kept: list[dict[str, Any]],
                 edits: dict[str, dict[str, Any] | None]) -> list[dict[str, Any]]:
    result, remaining = [], dict(edits)
    for step in kept:
        kind = step.get("kind")
        if kind not in remaining:
            result.append(step)
        elif (new := remaining.pop(kind)) is not None:
            result.append({**step, **new})
    for kind, new in remaining.items():
        # CRS already takes its two columns: no join is added in front of it.
        if new is None or (kind in ("join", "fallback") and _kind(result, "crs")):
            continue
        order = KIND_ORDER.index(kind)
        position = next((i for i, step in enumerate(result)
                         if KIND_ORDER.index(step.get("kind", "join")) > order), len(result))
        result.insert(position, {"kind": kind, **new})
    return result


def _kept(form: FormData, name: str, _: Gettext) -> list[dict[str, Any]]:
    text = _text(form, f"transforms:{name}") or "[]"
    try:
        kept = json.loads(text)
    except ValueError:
        kept = None
    if not isinstance(kept, list) or not all(isinstance(t, dict) for t in kept):
        raise ValueError(_("The transforms of this field could not be read; choose the "
                           "schema again to start over."))
    return [t for t in kept if t.get("kind") in KIND_ORDER]


def _rule(form: FormData, spec: Mapping[str, Any], _: Gettext) -> dict[str, Any]:
    name = spec["name"]
    sources = _sources(form, name)
    constant = (_text(form, f"constant:{name}") or "").strip()
    rule: dict[str, Any] = {"source": sources,
                            "transforms": _apply_edits(_kept(form, name, _),
                                                       _edits(form, name, spec, sources, _))}
    if constant:
        rule["constant"] = constant
    # The suggestion's confidence speaks about the columns it chose, not about others.
    if not constant and "\n".join(sources) == (_text(form, f"suggested:{name}") or ""):
        confidence = _text(form, f"confidence:{name}")
        if confidence:
            rule["confidence"] = float(confidence)
            rule["reason"] = _text(form, f"reason:{name}") or None
            rule["reason_i18n"] = _template(_text(form, f"reason_i18n:{name}"))
    return rule


def _template(text: str | None) -> dict[str, Any] | None:
    """A reason's template sent back by the form; one that does not read is dropped (the
    reason is then shown in German)."""
    try:
        value = json.loads(text or "null")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def read_mapping(form: FormData, schema: Mapping[str, Any],
                 _: Gettext) -> tuple[dict[str, Any], list[FieldError]]:
    """The submitted mapping as JSON data (for ``parse_mapping``) and the problems of the
    parameters that could not be read (those steps are left out)."""
    fields: dict[str, Any] = {}
    errors: list[FieldError] = []
    data: dict[str, Any] = {"schema_name": schema["name"]}
    if schema.get("version") is not None:
        data["schema_version"] = str(schema["version"])
    try:
        if (groups := _groups(form, _)) is not None:
            data["groups"] = groups
    except ValueError as error:
        errors.append(FieldError(GROUPS, str(error)))
    for spec in schema["fields"]:
        try:
            fields[spec["name"]] = _rule(form, spec, _)
        except ValueError as error:
            errors.append(FieldError(spec["name"], str(error)))
    data["fields"] = fields
    return data, errors


def error_field(path: str, names: set[str]) -> str:
    """The schema field an error of the service belongs to (``fields.plz.transforms.0…`` or
    ``plz``), :data:`GROUPS` for the groups, else ``""`` for the whole mapping."""
    parts = path.split(".")
    if len(parts) > 1 and parts[0] == "fields" and parts[1] in names:
        return parts[1]
    if parts[0] == GROUPS:
        return GROUPS
    return path if path in names else ""


# --- the groups -----------------------------------------------------------------------------

#: The key of the groups among the editor's errors, as the mapping's JSON names them (a schema
#: field called "groups" would share it).
GROUPS = "groups"


@dataclass
class GroupMember:
    """One member of the groups in the editor: its name and its column in each group."""

    index: int
    name: str
    columns: list[str]  # "" where a group lacks it


@dataclass
class GroupsForm:
    """The groups step in the editor; ``members`` ends with a blank one to add another."""

    active: bool
    number: str
    identifier: str
    key: str
    count: int
    members: list[GroupMember]

    @property
    def offered(self) -> list[str]:
        """What the field rules may take besides the source's columns."""
        if not self.active:
            return []
        number = self.number.strip() or DEFAULT_GROUP
        identifier = self.identifier.strip() or default_identifier(number)
        return [*(m.name.strip() for m in self.members if m.name.strip()), number, identifier]


def groups_form(groups: Mapping[str, Any] | None, raw: FormData | None = None) -> GroupsForm:
    """The groups of a mapping (its JSON data) for the editor; ``raw`` (a submitted form)
    wins, so what a person typed is shown again (removed groups are gone from it)."""
    if raw is not None and raw.get("groups:remove"):
        return groups_form(None)
    if raw is not None and _text(raw, "groups:count") is not None:
        return _typed_groups(raw)
    members = [GroupMember(i, name, [c or "" for c in columns])
               for i, (name, columns) in enumerate(((groups or {}).get("members") or {}).items())]
    count = len(members[0].columns) if members else 2
    number = str((groups or {}).get("number") or "")
    identifier = str((groups or {}).get("identifier") or "")
    members.append(GroupMember(len(members), "", [""] * count))
    return GroupsForm(groups is not None, number, identifier,
                      str((groups or {}).get("key") or ""), count, members)


def _typed_groups(raw: FormData) -> GroupsForm:
    # a count that cannot be read keeps the columns shown before
    count = _count(_text(raw, "groups:count") or "") or max(
        (int(key.rsplit(":", 1)[1]) for key in raw if key.startswith("groups:column:")
         and key.rsplit(":", 1)[1].isdigit()), default=1)
    members = [GroupMember(i, str(raw.get(f"groups:member:{i}") or ""),
                           [str(raw.get(f"groups:column:{i}:{n}") or "")
                            for n in range(1, count + 1)])
               for i in _member_indexes(raw)]
    named = [m for m in members if m.name.strip()]
    named.append(GroupMember(max((m.index for m in members), default=-1) + 1, "",
                             [""] * count))
    return GroupsForm(len(named) > 1, _text(raw, "groups:number") or "",
                      _text(raw, "groups:identifier") or "", _text(raw, "groups:key") or "",
                      count, named)


def _member_indexes(form: FormData) -> list[int]:
    found = {key.rsplit(":", 1)[1] for key in form if key.startswith("groups:member:")}
    return sorted(int(i) for i in found if i.isdigit())


def _count(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and 1 <= int(text) <= MAX_GROUPS else None


def _groups(form: FormData, _: Gettext) -> dict[str, Any] | None:
    """The groups as JSON data; None when the form has none, or they are removed."""
    if _text(form, "groups:count") is None or form.get("groups:remove"):
        return None
    count = _count(_text(form, "groups:count") or "")
    if count is None:
        raise ValueError(_("The number of groups must be a whole number from 1 to %(most)s.")
                         % {"most": MAX_GROUPS})
    members: dict[str, list[str | None]] = {}
    for i in _member_indexes(form):
        name = (_text(form, f"groups:member:{i}") or "").strip()
        if not name:
            continue
        if name in members:
            raise ValueError(_("Two members of the groups are called “%(name)s”; each needs "
                               "a name of its own.") % {"name": name})
        members[name] = [_text(form, f"groups:column:{i}:{n}") or None
                         for n in range(1, count + 1)]
    if not members:
        return None
    groups: dict[str, Any] = {"members": members}
    for part in ("number", "identifier", "key"):
        if text := (_text(form, f"groups:{part}") or "").strip():
            groups[part] = text
    return groups
