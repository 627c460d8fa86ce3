"""Catalog records as DCAT-AP.de 3.0: the catalog, its datasets with their distributions, the
publishers (foaf:Agent), contact points (vCard), the data services behind the downloads, the
quality measurements of mapped resources (DQV) and the regional datasets' sources (PROV).

Every IRI starts with ``ALLMENDE_BASE_URL``. Datasets are ``/catalog/datasets/{name}`` (a name
never changes; the UUID is the dataset's ``dct:identifier``), publishers are their
organization's page. What the GovData and SEMIC shapes demand is written out here; the
vocabularies the values come from are in ``catalog/vocabularies.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, cached_property

from allmende.catalog import vocabularies as vocab
from allmende.catalog.records import (
    DatasetRecord,
    OrganizationRecord,
    QualityRecord,
    ResourceRecord,
)
from allmende.interop.dcat import terms as t
from allmende.interop.dcat.terms import IRI, Node, iri
from allmende.interop.links import Links
from allmende.interop.registry import Service

#: The download formats a table is offered in, each a distribution of its own (CSV and
#: Parquet for every table, GeoJSON for those with geometries), with their EU file types.
TABLE_FORMATS = {"csv": "CSV", "geojson": "GEOJSON", "parquet": "PARQUET"}
REST_API = Service("allmende REST-API", "/api/v1/", "/api/v1/openapi.json")


@dataclass(frozen=True)
class Metric:
    name: str
    label_de: str
    label_en: str
    definition: str
    datatype: str


METRICS = (
    Metric("quality-score", "Qualitätswert", "Quality score",
           "Wert von 0 bis 100 aus dem Anteil fehlerfreier Zeilen, der Vollständigkeit und "
           "der Kopfzeile bei der Prüfung gegen ein gemeinsames Schema.", "xsd:decimal"),
    Metric("schema-valid", "Schema erfüllt", "Conforms to the schema",
           "Ob alle Zeilen das gemeinsame Schema erfüllen.", "xsd:boolean"),
    Metric("rows", "Geprüfte Zeilen", "Rows checked",
           "Zahl der gegen das Schema geprüften Zeilen.", "xsd:integer"),
    Metric("rows-with-errors", "Zeilen mit Fehlern", "Rows with errors",
           "Zahl der Zeilen mit mindestens einem Fehler.", "xsd:integer"),
    Metric("errors", "Fehler", "Errors", "Zahl aller Fehler jeder Art.", "xsd:integer"),
    Metric("completeness", "Vollständigkeit", "Completeness",
           "Mittlerer Anteil gefüllter Zellen je Feld des Schemas (0 bis 1).", "xsd:decimal"),
)


def _measured(quality: QualityRecord) -> dict[str, t.Literal]:
    return {"quality-score": t.decimal(quality.score, 1),
            "schema-valid": t.boolean(quality.valid), "rows": t.integer(quality.rows),
            "rows-with-errors": t.integer(quality.rows_with_errors),
            "errors": t.integer(quality.errors),
            "completeness": t.decimal(quality.completeness)}


@dataclass
class Shared:
    """Nodes several datasets refer to (publishers, places, services, metrics) are written
    once per document: the IRIs written so far."""

    written: set[str] = field(default_factory=set)

    def first(self, subject: str) -> bool:
        """Whether ``subject`` is not written yet (and is from now on)."""
        if subject in self.written:
            return False
        self.written.add(subject)
        return True

    def take(self, nodes: list[Node]) -> list[Node]:
        return [n for n in nodes if n.subject is None or self.first(n.subject)]


@dataclass(frozen=True)
class Catalog:
    """The DCAT-AP.de description of this node's catalog, built from its settings."""

    links: Links
    title: str
    publisher_name: str
    contributor_id: IRI | None
    services: tuple[Service, ...]

    # --- IRIs (names and slugs are [a-z0-9-], resource ids UUIDs: nothing to escape) -------

    @cached_property
    def _base(self) -> str:
        return self.links.base_url.rstrip("/")

    @property
    def iri(self) -> IRI:
        return IRI(self._base + "/catalog")

    def dataset_iri(self, name: str) -> IRI:
        return IRI(f"{self._base}/catalog/datasets/{name}")

    def _distribution_iri(self, dataset: IRI, resource: str, form: str | None = None) -> IRI:
        return IRI(f"{dataset}/resources/{resource}/{form}" if form
                   else f"{dataset}/resources/{resource}")

    @cached_property
    def _rest_api(self) -> IRI:
        return self._service_iri(REST_API)

    @property
    def _publisher_iri(self) -> IRI:
        return iri(self.links.url("/catalog/publisher"))

    def _service_iri(self, service: Service) -> IRI:
        return iri(self.links.url(service.endpoint.rstrip("/") or "/"))

    def _metric_iri(self, name: str) -> IRI:
        return iri(self.links.url(f"/catalog/metrics/{name}"))

    # --- the catalog and what every document shares ----------------------------------------

    def catalog_node(self, datasets: list[IRI]) -> Node:
        node = Node(self.iri, ("dcat:Catalog",))
        node.add("dct:title", t.text(self.title, "de"))
        node.add("dct:description", t.text(
            "Die Datensätze dieses allmende-Knotens in DCAT-AP.de 3.0: offene Daten der "
            "Kommunen, ihre Verteilungen und die Schnittstellen, über die sie abrufbar sind.",
            "de"))
        node.add("dct:publisher", self._publisher_iri)
        node.add("foaf:homepage", iri(self.links.url("/")))
        node.add("dct:language", iri(vocab.EU_LANGUAGE_BASE + "DEU"))
        node.add_all("dcat:service", [self._service_iri(s) for s in self.services])
        node.add_all("dcat:dataset", datasets)
        return node

    def catalog_datasets(self, datasets: list[IRI]) -> Node:
        """More datasets of the catalog (a streamed catalog names them batch by batch)."""
        return Node(self.iri).add_all("dcat:dataset", datasets)

    def context_nodes(self) -> list[Node]:
        """The catalog's publisher, its data services and the quality metrics."""
        publisher = Node(self._publisher_iri, ("foaf:Agent",))
        publisher.add("foaf:name", t.text(self.publisher_name))
        publisher.add("foaf:homepage", iri(self.links.url("/")))
        return [publisher, *(self._service_node(s) for s in self.services),
                *(self._metric_node(m) for m in METRICS)]

    def _service_node(self, service: Service) -> Node:
        node = Node(self._service_iri(service), ("dcat:DataService",))
        node.add("dct:title", t.text(service.title, "de"))
        node.add("dcat:endpointURL", iri(self.links.url(service.endpoint)))
        if service.description:
            node.add("dcat:endpointDescription", iri(self.links.url(service.description)))
        if service.conforms_to:
            node.add("dct:conformsTo", iri(service.conforms_to))
        return node.add("dct:publisher", self._publisher_iri)

    def _metric_node(self, metric: Metric) -> Node:
        node = Node(self._metric_iri(metric.name), ("dqv:Metric",))
        node.add("skos:prefLabel", t.text(metric.label_de, "de"))
        node.add("skos:prefLabel", t.text(metric.label_en, "en"))
        node.add("skos:definition", t.text(metric.definition, "de"))
        return node.add("dqv:expectedDataType", IRI(t.expand(metric.datatype)))

    def hydra_view(self, page_url: str, page: int, last: int, per_page: int, total: int,
                   url_of: Callable[[int], str]) -> Node:
        """The paging of a catalog page: Hydra's view with first/last/next/previous, and the
        older PagedCollection terms that ckanext-dcat and piveau harvesters read."""
        node = Node(iri(page_url), ("hydra:PartialCollectionView", "hydra:PagedCollection"))
        pages = {"first": 1, "last": last, "next": page + 1 if page < last else None,
                 "previous": page - 1 if page > 1 else None}
        for name, number in pages.items():
            if number is not None:
                target = url_of(number)
                node.add(f"hydra:{name}", iri(target))
                node.add(f"hydra:{name}Page", t.text(target))
        node.add("hydra:totalItems", t.integer(total))
        return node.add("hydra:itemsPerPage", t.integer(per_page))

    # --- datasets ---------------------------------------------------------------------------

    def dataset_nodes(self, record: DatasetRecord, shared: Shared) -> list[Node]:
        """The dataset with its distributions, and the nodes they refer to (publisher,
        places) that ``shared`` has not seen in this document yet."""
        subject = self.dataset_iri(record.name)
        language = record.language if record.language in vocab.LANGUAGE_CODES else "de"
        issued = t.date(record.issued) if record.issued else t.timestamp(record.created)
        frequency = record.update_frequency
        node = Node(subject, ("dcat:Dataset",), [pair for pair in (
            ("dct:identifier", t.text(record.uuid)),
            ("dct:title", t.text(record.title, language)),
            ("dct:description", t.text(record.description, language)),
            ("dct:publisher", self._agent_iri(record.organization)),
            ("dcatde:contributorID", self.contributor_id),
            ("dcat:contactPoint", self._contact(record)),
            *(("dcat:keyword", t.text(k, language)) for k in record.keywords),
            *(("dcat:theme", IRI(vocab.EU_THEME_BASE + c)) for c in record.themes),
            ("dct:accessRights", IRI(vocab.EU_ACCESS_RIGHT_BASE +
                                     vocab.ACCESS_RIGHTS[record.access_level])),
            ("dct:language", IRI(vocab.EU_LANGUAGE_BASE + vocab.LANGUAGE_CODES[language])),
            ("dct:issued", issued),
            ("dct:modified", t.timestamp(record.modified)),
            ("dct:accrualPeriodicity",
             IRI(vocab.EU_FREQUENCY_BASE + frequency) if frequency else None),
            ("dct:temporal", _period(record)),
        ) if pair[1] is not None])
        referred = []
        agent = self._agent_iri(record.organization)
        if shared.first(agent):
            referred.append(self._agent_node(agent, record.organization))
        referred += self._spatial(record, node, shared)
        node.add("dcat:landingPage", IRI(f"{self._base}/datasets/{record.name}"))
        sources = sorted({name for r in record.resources if r.derived and r.table
                          for name in r.table.derived_from})
        node.add_all("prov:wasDerivedFrom", [self.dataset_iri(n) for n in sources])
        distributions = [d for r in record.resources
                         for d in self._distributions(record, subject, r)]
        for resource in record.resources:
            if resource.quality is not None:
                node.add_all("dqv:hasQualityMeasurement", self._measurements(
                    resource.quality, self._distribution_iri(
                        subject, resource.id, self._forms(record, resource)[0])))
        node.add_all("dcat:distribution", [d.subject for d in distributions
                                           if d.subject is not None])
        return [node, *distributions, *referred]

    def _agent_iri(self, organization: OrganizationRecord) -> IRI:
        return IRI(f"{self._base}/organizations/{organization.slug}")

    def _agent_node(self, subject: IRI, organization: OrganizationRecord) -> Node:
        node = Node(subject, ("foaf:Agent", "foaf:Organization"))
        node.add("foaf:name", t.text(organization.name))
        kind = vocab.PUBLISHER_TYPES.get(organization.type)
        node.add("dct:type", iri(vocab.ADMS_PUBLISHER_TYPE_BASE + kind) if kind else None)
        if organization.email:
            node.add("foaf:mbox", iri(_mailto(organization.email)))
        if organization.website:
            node.add("foaf:homepage", iri(organization.website))
        return node

    def _contact(self, record: DatasetRecord) -> Node | None:
        """The dataset's contact point, else its organization's address or website."""
        organization = record.organization
        contact = record.contact_point or organization.email or organization.website
        if not contact:
            return None
        node = Node(None, ("vcard:Kind",)).add("vcard:fn", t.text(organization.name))
        if contact.startswith(("http://", "https://")):
            return node.add("vcard:hasURL", iri(contact))
        return node.add("vcard:hasEmail", iri(_mailto(contact)))

    def _spatial(self, record: DatasetRecord, node: Node, shared: Shared) -> list[Node]:
        """``dct:spatial``: the political geocoding URI (typed as a place, with its level),
        and the organization's extent as ``dcat:bbox``. Returns the places not yet written."""
        places: list[Node] = []
        if record.spatial:
            place = iri(record.spatial)
            node.add("dct:spatial", place)
            level = vocab.political_geocoding_level(record.spatial)
            if level:
                node.add("dcatde:politicalGeocodingLevelURI", IRI(level))
                if shared.first(place):
                    places.append(Node(place, ("dct:Location",)))
        bbox = record.organization.bbox
        if bbox:
            node.add("dct:spatial", Node(None, ("dct:Location",)).add(
                "dcat:bbox", t.Literal(_polygon(bbox), "geo:wktLiteral")))
        return places

    def _measurements(self, quality: QualityRecord, computed_on: IRI) -> list[Node]:
        measured = _measured(quality)
        return [Node(None, ("dqv:QualityMeasurement",))
                .add("dqv:isMeasurementOf", self._metric_iri(metric.name))
                .add("dqv:computedOn", computed_on)
                .add("dqv:value", measured[metric.name])
                .add("prov:generatedAtTime", t.timestamp(quality.created))
                for metric in METRICS]

    # --- distributions ----------------------------------------------------------------------

    @staticmethod
    def _forms(record: DatasetRecord, resource: ResourceRecord) -> list[str | None]:
        """How a resource is offered: a table in its download formats (unless its rows are
        only given under an agreement), anything else as it is (None)."""
        table = resource.table
        if table is None or record.access_level == "restricted":
            return [None]
        return [form for form in TABLE_FORMATS if form != "geojson" or table.geometry]

    def _distributions(self, record: DatasetRecord, dataset: IRI, resource: ResourceRecord
                       ) -> list[Node]:
        return [self._distribution(record, dataset, resource, form)
                for form in self._forms(record, resource)]

    def _distribution(self, record: DatasetRecord, dataset: IRI, resource: ResourceRecord,
                      form: str | None) -> Node:
        code = TABLE_FORMATS[form] if form else vocab.file_type(resource.format)
        language = record.language
        media = vocab.media_type(code) if code else None
        modified = resource.table.published if resource.table else resource.modified
        return Node(self._distribution_iri(dataset, resource.id, form), ("dcat:Distribution",),
                    [pair for pair in (
            ("dct:title", t.text(f"{resource.name} ({code})" if form else resource.name,
                                 language)),
            ("dct:description",
             t.text(resource.description, language) if resource.description else None),
            *self._access(resource, form, code),
            ("dct:format", IRI(vocab.EU_FILE_TYPE_BASE + code) if code else None),
            ("dcat:mediaType", IRI(media) if media else None),
            ("dct:license", IRI(vocab.DCATDE_LICENSE_BASE + record.license)),
            ("dcatde:licenseAttributionByText", t.text(record.organization.name)
             if record.license in vocab.ATTRIBUTION_LICENSES else None),
            ("dct:issued", t.timestamp(resource.created)),
            ("dct:modified", t.timestamp(modified)),
        ) if pair[1] is not None])

    def _access(self, resource: ResourceRecord, form: str | None, code: str | None
                ) -> list[tuple[str, IRI]]:
        """Where a distribution is found: a table's download (through the REST API), a
        link's address (downloaded directly unless it is a service such as WMS), else the
        resource's page."""
        if form:
            download = IRI(f"{self._base}/api/v1/resources/{resource.id}/rows?format={form}")
            return [("dcat:accessURL", download), ("dcat:downloadURL", download),
                    ("dcat:accessService", self._rest_api)]
        if resource.url:
            address = iri(resource.url)
            if code and not code.endswith("_SRVC"):
                return [("dcat:accessURL", address), ("dcat:downloadURL", address)]
            return [("dcat:accessURL", address)]
        page = [("dcat:accessURL", IRI(f"{self._base}/resources/{resource.id}"))]
        return [*page, ("dcat:accessService", self._rest_api)] if resource.table else page


def _period(record: DatasetRecord) -> Node | None:
    if record.temporal_start is None and record.temporal_end is None:
        return None
    node = Node(None, ("dct:PeriodOfTime",))
    node.add("dcat:startDate", t.date(record.temporal_start) if record.temporal_start else None)
    return node.add("dcat:endDate", t.date(record.temporal_end) if record.temporal_end else None)


def _mailto(address: str) -> str:
    return address if address.startswith("mailto:") else f"mailto:{address}"


@cache  # one box per organization
def _polygon(bbox: tuple[float, float, float, float]) -> str:
    """A WKT polygon of a WGS84 box, in longitude/latitude order (CRS84, GeoSPARQL's
    default)."""
    west, south, east, north = (f"{v:.6f}".rstrip("0").rstrip(".") for v in bbox)
    return (f"POLYGON(({west} {south},{east} {south},{east} {north},{west} {north},"
            f"{west} {south}))")


def contributor_iri(setting: str) -> IRI | None:
    """The contributor ID setting as an IRI: a bare ID is one of dcat-ap.de's list."""
    if not setting:
        return None
    return iri(setting if "://" in setting else vocab.DCATDE_CONTRIBUTOR_BASE + setting)
