"""Bounded HTTP fetching for every harvest source type.

A source is somebody else's server: it may be down, slow, huge, endless or hostile. So every
document is read as a stream under a size cap, every redirect hop is followed by hand (at most
``harvest_max_redirects``, loops named as such) and checked again, a run fetches at most
``harvest_max_pages`` documents, and an address that is not public (loopback, private,
link-local, reserved, multicast, unspecified, IPv4 and IPv6, IPv4-mapped included) is refused
unless ``ALLMENDE_HARVEST_ALLOWED_NETWORKS`` allows it. The address is checked twice: the
host's addresses before connecting, and the address the connection actually reached (so a
name that resolves differently the second time, DNS rebinding, gains nothing).

Every problem is a :class:`FetchError` with a German message naming the URL and the reason.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import orjson

from allmende import __version__
from allmende.config import Settings
from allmende.errors import AllmendeError, Message, msg

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network
REDIRECTS = frozenset({301, 302, 303, 307, 308})
CHUNK = 1 << 16


class FetchError(AllmendeError):
    """A source could not be read as asked: the whole document is unusable."""

    def __init__(self, message: str, code: str = "harvest_fetch") -> None:
        super().__init__(message, code, 502)


@dataclass(frozen=True)
class Document:
    url: str  # where it was read, after redirects
    content_type: str  # the media type without parameters, lower case
    body: bytes

    def json(self) -> Any:
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError as error:
            raise FetchError(msg("{url} liefert kein gültiges JSON ({error}).", url=self.url,
                                 error=str(error)), "harvest_bad_json") from None


@dataclass(frozen=True)
class Limits:
    max_pages: int
    max_redirects: int
    max_bytes: int
    timeout: float
    allowed: tuple[Network, ...]

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(settings.harvest_max_pages, settings.harvest_max_redirects,
                   settings.harvest_max_document_bytes, settings.harvest_timeout_seconds,
                   tuple(settings.harvest_networks))


def _plain(address: Address) -> Address:
    """An IPv4-mapped IPv6 address (``::ffff:127.0.0.1``) is the IPv4 address it carries."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def refused_address(address: Address, allowed: tuple[Network, ...]) -> bool:
    """True for an address harvesting must not reach: anything not globally routable
    (loopback, private, link-local, shared, reserved, documentation), multicast and the
    unspecified address, unless one of the ``allowed`` networks holds it."""
    address = _plain(address)
    if any(address.version == net.version and address in net for net in allowed):
        return False
    return (not address.is_global or address.is_multicast or address.is_unspecified
            or address.is_reserved or address.is_link_local or address.is_loopback
            or address.is_private)


@cache
def _tls() -> ssl.SSLContext:
    """One TLS context per process for every run: building one reads the whole CA bundle
    (~25 ms of CPU), which a worker harvesting many sources paid once per run."""
    return httpx.create_ssl_context(trust_env=False)


class Fetcher:
    """One run's HTTP client: counts the documents it fetched across all requests."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.pages = 0
        self._client = httpx.Client(
            follow_redirects=False, trust_env=False,  # no proxy: the checked address is the peer
            verify=_tls(),
            timeout=httpx.Timeout(limits.timeout),
            headers={"User-Agent": f"allmende-harvest/{__version__}"})

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def get(self, url: str, accept: tuple[str, ...], params: dict[str, Any] | None = None
            ) -> Document:
        """The document at ``url`` (one of the media types ``accept`` names), counted as one
        page of the run."""
        with self._response(url, accept, params) as response:
            body = b"".join(self._chunks(response))
            return Document(str(response.url), media_type(response), body)

    def json(self, url: str, params: dict[str, Any] | None = None) -> Any:
        return self.get(url, ("application/json",), params).json()

    def download(self, url: str, target: Path) -> Document:
        """Stream the document at ``url`` into ``target`` (any media type); its body in the
        result is empty."""
        with self._response(url, (), None) as response, target.open("wb") as out:
            for chunk in self._chunks(response):
                out.write(chunk)
            return Document(str(response.url), media_type(response), b"")

    @contextmanager
    def _response(self, url: str, accept: tuple[str, ...],
                  params: dict[str, Any] | None) -> Iterator[httpx.Response]:
        self.pages += 1
        if self.pages > self.limits.max_pages:
            raise FetchError(msg("Die Quelle hat mehr als {limit} Seiten geliefert (bei {url}); "
                                 "der Lauf bricht ab, damit eine endlose Folge von Seiten ihn "
                                 "nicht aufhält.", limit=self.limits.max_pages, url=url),
                             "harvest_too_many_pages")
        request = self._client.build_request("GET", url, params=params,
                                             headers={"Accept": ", ".join(accept) or "*/*"})
        response = self._follow(request)
        try:
            _check_status(response)
            if accept:
                _check_type(response, accept)
            yield response
        finally:
            response.close()

    def _follow(self, request: httpx.Request) -> httpx.Response:
        """Send, following redirects by hand: each hop's host and peer checked again."""
        seen: list[str] = []
        while True:
            current = str(request.url)
            self._check_host(current)
            response = self._send(request, current)
            try:
                self._check_peer(response, current)
            except BaseException:
                response.close()
                raise
            if response.status_code not in REDIRECTS:
                return response
            response.close()
            seen.append(current)
            request = self._redirect(response, current, seen)

    def _send(self, request: httpx.Request, url: str) -> httpx.Response:
        try:
            return self._client.send(request, stream=True)
        except httpx.TimeoutException:
            raise FetchError(msg("{url} antwortet nicht innerhalb von {seconds} Sekunden.",
                                 url=url, seconds=round(self.limits.timeout)),
                             "harvest_timeout") from None
        except httpx.HTTPError as error:
            raise FetchError(msg("{url} ist nicht erreichbar ({error}).", url=url,
                                 error=str(error) or type(error).__name__),
                             "harvest_unreachable") from None

    def _redirect(self, response: httpx.Response, current: str, seen: list[str]
                  ) -> httpx.Request:
        location = response.headers.get("location")
        if not location:
            raise FetchError(msg("{url} leitet weiter, nennt aber kein Ziel.", url=current),
                             "harvest_bad_redirect")
        target = urljoin(current, location)
        if target in seen:
            raise FetchError(msg("{url} leitet im Kreis weiter (über {target}).", url=seen[0],
                                 target=target), "harvest_redirect_loop")
        if len(seen) > self.limits.max_redirects:
            raise FetchError(msg("{url} leitet mehr als {limit}-mal weiter.", url=seen[0],
                                 limit=self.limits.max_redirects), "harvest_redirects")
        return self._client.build_request("GET", target,
                                          headers={"Accept": response.request.headers.get(
                                              "Accept", "*/*")})

    def _check_host(self, url: str) -> None:
        """Refuse a scheme other than http(s), and a host with any address not allowed."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(msg("{url} ist keine http- oder https-Adresse.", url=url),
                             "harvest_bad_url")
        try:
            infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            raise FetchError(msg("Den Rechner {host} von {url} gibt es nicht (Namensauflösung "
                                 "fehlgeschlagen).", host=parts.hostname, url=url),
                             "harvest_unreachable") from None
        for info in infos:
            self._check_address(ip_address(str(info[4][0]).split("%")[0]), url)

    def _check_peer(self, response: httpx.Response, url: str) -> None:
        """The address the connection really reached (what the name resolved to then)."""
        stream = response.extensions.get("network_stream")
        peer = stream.get_extra_info("server_addr") if stream is not None else None
        if not peer:
            raise FetchError(msg("Die Verbindung zu {url} nennt ihre Gegenstelle nicht; sie "
                                 "wird nicht verwendet.", url=url), "harvest_refused_address")
        self._check_address(ip_address(str(peer[0]).split("%")[0]), url)

    def _check_address(self, address: Address, url: str) -> None:
        if refused_address(address, self.limits.allowed):
            raise FetchError(msg(
                "{url} führt zur Adresse {address}, die nicht öffentlich ist (lokal, privat "
                "oder reserviert); Harvesting erreicht sie nur, wenn "
                "ALLMENDE_HARVEST_ALLOWED_NETWORKS sie erlaubt.", url=url,
                address=str(address)), "harvest_refused_address")

    def _chunks(self, response: httpx.Response) -> Iterator[bytes]:
        limit, url = self.limits.max_bytes, str(response.url)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _too_large(url, limit)
        read = 0
        try:
            for chunk in response.iter_bytes(CHUNK):
                read += len(chunk)
                if read > limit:
                    raise _too_large(url, limit)
                yield chunk
        except httpx.TimeoutException:
            raise FetchError(msg("{url} bricht beim Senden ab (nach {seconds} Sekunden ohne "
                                 "Daten).", url=url, seconds=round(self.limits.timeout)),
                             "harvest_timeout") from None
        except httpx.HTTPError as error:
            raise FetchError(msg("{url} bricht beim Senden ab ({error}).", url=url,
                                 error=str(error) or type(error).__name__),
                             "harvest_unreachable") from None


def _too_large(url: str, limit: int) -> FetchError:
    return FetchError(msg("{url} ist größer als {megabytes} MB und wird nicht gelesen.",
                          url=url, megabytes=round(limit / 1_048_576, 1)), "harvest_too_large")


def media_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip().lower()


def _check_status(response: httpx.Response) -> None:
    if response.status_code >= 400:
        raise FetchError(msg("{url} antwortet mit dem HTTP-Status {status}.",
                             url=str(response.url), status=response.status_code),
                         "harvest_http_status")


def _check_type(response: httpx.Response, accept: tuple[str, ...]) -> None:
    found = media_type(response)
    if found not in accept and not (found.endswith("+json") and "application/json" in accept):
        raise FetchError(wrong_type(str(response.url), found, accept), "harvest_content_type")


def wrong_type(url: str, found: str, accept: tuple[str, ...]) -> Message:
    return msg("{url} liefert „{found}“ statt {expected}.", url=url,
               found=found or "keinen Inhaltstyp", expected=" oder ".join(accept))
