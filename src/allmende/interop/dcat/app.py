"""The DCAT-AP.de catalog as an application of its own: ``/catalog.ttl|rdf|jsonld`` page by
page with Hydra links (``?page=all`` streams the whole catalog), ``/catalog/datasets/{name}``
per dataset; ``/catalog`` and ``/catalog/datasets/{name}`` without a suffix negotiate the
format from ``Accept``. Errors are short plain-text messages (German, English with
``Accept-Language: en``) with the status codes of docs/api.md.

Callers: an API token (``Authorization: Bearer``), else the browser's session, else anonymous;
each sees the datasets the access policy shows them in listings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from allmende.access.policy import Actor
from allmende.catalog import records
from allmende.catalog.records import DatasetRecord
from allmende.catalog.search import SearchRequest
from allmende.errors import AllmendeError, Message, msg
from allmende.interop import registry
from allmende.interop.callers import bearer_token, caller
from allmende.interop.dcat import params
from allmende.interop.dcat.mapping import REST_API, Catalog, Shared, contributor_iri
from allmende.interop.dcat.serialize import FORMATS, Writer, document
from allmende.interop.links import Links
from allmende.platform import Platform
from allmende.web.i18n import api_language_of, localize

log = logging.getLogger(__name__)
#: Datasets read per transaction while the whole catalog streams.
STREAM_BATCH = 500


def create_app(platform: Platform) -> Starlette:
    settings = platform.settings
    catalog = Catalog(
        links=Links(settings.base_url), title=settings.dcat_catalog_title,
        publisher_name=settings.dcat_publisher,
        contributor_id=contributor_iri(settings.dcat_contributor_id),
        services=(REST_API, *(i.service for i in registry.interfaces() if i.service)))
    endpoints = Endpoints(platform, catalog)
    return Starlette(routes=[
        Route("/catalog", endpoints.catalog_document),
        Route("/catalog.{format}", endpoints.catalog_document),
        Route("/catalog/datasets/{file}", endpoints.dataset_document),
    ], exception_handlers={HTTPException: _http_error})


class Endpoints:
    def __init__(self, platform: Platform, catalog: Catalog) -> None:
        self.platform = platform
        self.catalog = catalog

    async def catalog_document(self, request: Request) -> Response:
        suffix = request.path_params.get("format")
        form = suffix if suffix is not None else params.negotiate(request.headers)
        return await run_in_threadpool(self._answer, request, lambda: self._catalog(
            request, form))

    async def dataset_document(self, request: Request) -> Response:
        name, form = params.dataset_file(request.path_params["file"], request.headers)
        return await run_in_threadpool(self._answer, request, lambda: self._dataset(
            request, name, form))

    def _answer(self, request: Request, build: Callable[[], Response]) -> Response:
        try:
            return build()
        except AllmendeError as error:
            return _text(localize(error.message, api_language_of(request)), error.status)
        except Exception:
            log.exception("DCAT request %s failed", request.url.path)
            return _text(localize(msg("Interner Fehler."), api_language_of(request)), 500)

    def _catalog(self, request: Request, form: str | None) -> Response:
        writer = _writer(form)
        query = params.catalog_query(request.query_params)
        with self.platform.db.session() as session:
            actor = caller(request, session, bearer_token(request))
            if query.page is None:
                return StreamingResponse(self._stream(writer, actor, query),
                                         media_type=writer.media_type)
            # The search index knows who sees what and pages by UUID at any depth: a change
            # does not move a dataset to another page (CKAN harvesters page the same way).
            found = records.search_records(session, self.platform.search_index, actor,
                                           SearchRequest(
                sort="id", page=query.page, per_page=query.per_page,
                max_per_page=params.MAX_PER_PAGE, modified_since=query.modified_since,
                facet_limit=0))
        return Response(self._page(writer, query, request.url.path, found),
                        media_type=writer.media_type)

    def _page(self, writer: Writer, query: params.CatalogQuery, path: str,
              found: records.RecordPage) -> str:
        """One page: the catalog naming its datasets, what they refer to, Hydra's view."""
        links = self.catalog.links
        view = self.catalog.hydra_view(
            query.page_url(links, path, query.page), query.page,
            max(1, -(-found.count // query.per_page)), query.per_page, found.count,
            lambda number: query.page_url(links, path, number))
        shared = Shared()
        head = [self.catalog.catalog_node([self.catalog.dataset_iri(r.name)
                                           for r in found.records])
                .add("hydra:view", view.subject), *shared.take(self.catalog.context_nodes())]
        return (writer.start() + writer.chunk(head) + self._datasets(writer, found.records, shared)
                + writer.chunk([view]) + writer.end())

    def _datasets(self, writer: Writer, datasets: list[DatasetRecord], shared: Shared) -> str:
        """The datasets' text, each written as soon as its nodes are built: nodes that die
        young are cheap for Python's garbage collector, a batch of them kept alive is not
        (measured: 2.3 times the time per dataset)."""
        return "".join(writer.chunk(self.catalog.dataset_nodes(record, shared))
                       for record in datasets)

    def _stream(self, writer: Writer, actor: Actor, query: params.CatalogQuery
                ) -> Iterator[str]:
        """The whole catalog, one batch of datasets per transaction and chunk; publishers and
        places are written once, when first referred to."""
        shared = Shared()
        yield writer.start() + writer.chunk(
            [self.catalog.catalog_node([]), *shared.take(self.catalog.context_nodes())])
        cursor: int | None = 0
        while cursor is not None:
            with self.platform.db.sessions() as session:
                batch = records.dataset_batch(session, actor, cursor, STREAM_BATCH,
                                              query.modified_since)
            yield self._datasets(writer, batch.records, shared) + writer.chunk(
                [self.catalog.catalog_datasets([self.catalog.dataset_iri(r.name)
                                                for r in batch.records])])
            cursor = batch.cursor
        yield writer.end()

    def _dataset(self, request: Request, name: str, form: str | None) -> Response:
        writer = _writer(form)
        with self.platform.db.session() as session:
            record = records.dataset_record(
                session, caller(request, session, bearer_token(request)), name)
        shared = Shared()
        nodes = [*shared.take(self.catalog.context_nodes()),
                 *self.catalog.dataset_nodes(record, shared)]
        return Response(document(writer, nodes), media_type=writer.media_type)


def _writer(form: str | None) -> Writer:
    if form not in FORMATS:
        raise params.NotAFormat(form or "")
    return FORMATS[form]()


def _text(message: str, status: int) -> Response:
    return PlainTextResponse(message + "\n", status_code=status)


async def _http_error(request: Request, error: Exception) -> Response:
    status = getattr(error, "status_code", 500)
    message: Message = msg("Hier gibt es nur GET.") if status == 405 else \
        msg("Diese Adresse gibt es nicht.")
    return _text(localize(message, api_language_of(request)), status)
