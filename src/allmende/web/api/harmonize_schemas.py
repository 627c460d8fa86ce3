"""Response shapes of the Harmonize API: shared schemas, mappings, quality reports and the
regional tables."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from allmende.db.models import Consolidation, QualityReport, ResourceMapping
from allmende.harmonize.service import Preview, dataset_texts
from allmende.web.api.schemas import FromRow
from allmende.web.i18n import localize, localized_entry


def _schema_key() -> Any:
    """"schema" would shadow a BaseModel attribute: the models hold ``schema_name`` and
    answer with the key "schema"."""
    return Field(alias="schema", description="Name des gemeinsamen Schemas")


class SchemaInfoOut(FromRow):
    name: str
    title: str
    version: str
    description: str
    fields: int = Field(description="Anzahl der Felder")
    shipped: bool = Field(description="Mit allmende ausgeliefert (sonst von Sysadmins ergänzt)")


class SchemaList(BaseModel):
    count: int
    results: list[SchemaInfoOut]


class MappingOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    version: int
    schema_name: str = _schema_key()
    created_at: dt.datetime
    mapping: dict[str, Any] = Field(
        description="Die Zuordnung im selben Format, das PUT …/mapping erwartet")

    @classmethod
    def of(cls, saved: ResourceMapping) -> MappingOut:
        return cls(version=saved.version, schema_name=saved.schema_name,
                   created_at=saved.created_at, mapping=saved.rules)


class MappingList(BaseModel):
    count: int
    results: list[MappingOut]


class TransformErrorOut(BaseModel):
    field: str = Field(description="Feld des Schemas")
    column: str = Field(description="Quellspalte(n)")
    row: int = Field(description="Datenzeile der Quelle ohne Kopfzeile (erste Datenzeile = 1)")
    value: str
    message: str


class PositionOut(BaseModel):
    row: int = Field(description="Datenzeile der Quelle ohne Kopfzeile (erste Datenzeile = 1)")
    group: int | None = Field(description="Nummer der Gruppe in dieser Zeile (z. B. Ladepunkt "
                                          "2); null ohne Gruppen")


class PreviewOut(BaseModel):
    fields: list[str]
    rows: list[dict[str, str | None]] = Field(
        description="Die ersten Zeilen, zugeordnet: Werte als Text in kanonischer Form")
    positions: list[PositionOut] = Field(
        description="Je Zeile in `rows`, woher sie stammt: Quellzeile und Gruppe")
    groups: str | None = Field(description="Wie die Gruppen heißen (z. B. „Ladepunkt“), wenn "
                                           "die Zuordnung Spaltengruppen zu Zeilen macht")
    errors: list[TransformErrorOut]
    error_counts: dict[str, int] = Field(description="Fehlgeschlagene Zellen je Feld")

    @classmethod
    def of(cls, preview: Preview, language: str) -> PreviewOut:
        return cls(fields=preview.fields, rows=preview.rows,
                   positions=[PositionOut(row=row, group=group)
                              for row, group in preview.positions],
                   groups=preview.groups,
                   errors=[TransformErrorOut(**{**e, "message": localize(e["message"], language)})
                           for e in preview.errors],
                   error_counts=preview.error_counts)


class SampleOut(BaseModel):
    type: str = Field(description="Fehlerart, z. B. type-error, required-error, mapping-error")
    row: int | None = Field(description="Zeile mit Kopfzeile gezählt (erste Datenzeile = 2)")
    field: str | None
    message: str


class QualityOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    schema_name: str = _schema_key()
    table_version: int
    mapping_version: int
    score: float = Field(description="Qualitätswert 0 bis 100")
    valid: bool
    rows: int
    rows_with_errors: int
    errors: dict[str, int] = Field(description="Anzahl je Fehlerart")
    samples: list[SampleOut]
    completeness: dict[str, float] = Field(description="Anteil gefüllter Zellen je Feld")
    created_at: dt.datetime

    @classmethod
    def of(cls, report: QualityReport, language: str) -> QualityOut:
        """The report with its samples' messages in ``language``."""
        details = {**report.report, "samples": [localized_entry(sample, language)
                                                for sample in report.report["samples"]]}
        return cls(schema_name=report.schema_name, table_version=report.table_version,
                   mapping_version=report.mapping_version, score=report.score,
                   valid=report.valid, rows=report.rows,
                   rows_with_errors=details.get("rows_with_errors", 0),
                   errors=details["errors"],
                   samples=[SampleOut(**sample) for sample in details["samples"]],
                   completeness=details["completeness"], created_at=report.created_at)


class SourceOut(BaseModel):
    dataset: str
    title: str
    resource: str
    organization: str
    organization_name: str
    ags: str | None
    table_version: int
    mapping_version: int
    rows: int = Field(description="Zeilen der Quelle")
    kept: int = Field(description="Davon im regionalen Datensatz (ohne Dubletten)")
    score: float
    valid: bool


class ProblemOut(BaseModel):
    dataset: str
    message: str


class DuplicateRowOut(BaseModel):
    dataset: str
    row: int = Field(description="Datenzeile der Quelle, ab 1")
    key: str = Field(description="Primärschlüssel der Zeile („–“: leer)")


class DuplicateOut(BaseModel):
    reason: Literal["key", "place"] = Field(description="key: gleiche Kennung; place: gleiche "
                                                        "Adresse, höchstens 10 m entfernt")
    organization: str
    dropped: DuplicateRowOut
    kept: DuplicateRowOut


class DuplicatesOut(BaseModel):
    count: int = Field(description="Alle ausgelassenen Zeilen")
    listed: list[DuplicateOut] = Field(description="Die ersten 200")


class ConsolidationOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    schema_name: str = _schema_key()
    dataset: str = Field(description="Name des regionalen Datensatzes")
    title: str
    resource: str = Field(description="Ressource; Zeilen über /api/v1/resources/{id}/rows")
    rebuilt_at: dt.datetime
    sources: list[SourceOut]
    problems: list[ProblemOut] = Field(description="Quellen, die nicht einfließen konnten")
    duplicates: DuplicatesOut = Field(description="Zeilen, die als doppelt ausgelassen wurden, "
                                                  "neben den stattdessen behaltenen")

    @classmethod
    def of(cls, record: Consolidation, language: str) -> ConsolidationOut:
        """The regional dataset with its title and problems in ``language``."""
        return cls(schema_name=record.schema_name, dataset=record.dataset.name,
                   title=localize(dataset_texts(record.dataset).title, language),
                   resource=record.resource_id, rebuilt_at=record.rebuilt_at,
                   sources=[SourceOut(**source) for source in record.sources],
                   problems=[ProblemOut(**localized_entry(problem, language))
                             for problem in record.problems],
                   duplicates=DuplicatesOut(**(record.duplicates or {"count": 0,
                                                                     "listed": []})))


class ConsolidationList(BaseModel):
    count: int
    results: list[ConsolidationOut]
