"""Uploads are refused before they are stored: who may not upload is answered before a byte of
the file is read, a body over the limit is cut off where it crosses it, and nothing refused is
kept in the staging folder."""

from __future__ import annotations

import contextlib
import json
import selectors
import socket
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from allmende.platform import Platform
from allmende.tables import store
from allmende.web.app import create_app
from support import World, dataset_body, served

MIB = 1 << 20
BOUNDARY = "allmende-test-boundary"


class Body:
    """A chunked multipart body of ``megabytes`` MiB that counts what the server read."""

    def __init__(self, megabytes: int) -> None:
        self.megabytes = megabytes
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        yield (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
               'filename="messwerte.csv"\r\nContent-Type: text/csv\r\n\r\n').encode()
        yield b"Messstelle;Wert\n"
        for _ in range(self.megabytes):
            self.sent += MIB
            yield b"DO01;1\n" * (MIB // 7) + b"\n" * (MIB % 7)
        yield f"\r\n--{BOUNDARY}--\r\n".encode()


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    platform.settings.inprocess_worker = False
    platform.settings.upload_limit_bytes = MIB
    with TestClient(create_app(platform)) as test_client:
        yield test_client


@pytest.fixture
def server(client: TestClient) -> Iterator[str]:
    with served(client.app) as address:
        yield f"http://{address}"


def _staged(platform: Platform) -> list:
    folder = store.uploads_folder(platform.settings.data_dir)
    return list(folder.iterdir()) if folder.exists() else []


def _post(server: str, body: Body, headers: dict) -> tuple[int, dict]:
    """Send the body chunked over a plain socket until the server answers or closes, as
    curl would; returns the status and the JSON error."""
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as connection, \
            selectors.DefaultSelector() as answered:  # epoll: no limit on descriptor numbers
        answered.register(connection, selectors.EVENT_READ)
        head = ["POST /api/v1/datasets/ladesaeulen/resources HTTP/1.1", f"Host: {host}",
                f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
                "Transfer-Encoding: chunked", *(f"{k}: {v}" for k, v in headers.items())]
        connection.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        try:
            for chunk in body:
                connection.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                if answered.select(0):
                    break  # the answer is there: stop, as a client should
            else:
                connection.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed the connection: it read no further
        answer = b""
        with contextlib.suppress(ConnectionResetError, TimeoutError):
            while chunk := connection.recv(65536):
                answer += chunk
    head, _, payload = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    assert b"connection: close" in head.lower(), head
    text = payload.split(b"\r\n", 1)[1] if b"chunked" in head.lower() else payload
    return status, json.loads(text[:text.rindex(b"}") + 1])


@pytest.mark.parametrize("who, status", [(None, 401), ("bochum-editor", 403), ("member", 403)])
def test_who_may_not_upload_is_refused_before_the_file_is_read(client, server, world: World,
                                                               who, status):
    assert client.post("/api/v1/datasets", json=dataset_body(),
                       headers=world.auth("editor")).status_code == 201
    body = Body(1024)  # 1 GiB, chunked
    answered, _error = _post(server, body, world.auth(who))
    assert answered == status
    # what the operating system buffers on the way is not read by the server
    assert body.sent <= 16 * MIB, f"{body.sent >> 20} MiB were sent before the refusal"
    assert _staged(world.platform) == []


def test_a_body_over_the_limit_is_cut_off_and_nothing_is_kept(client, server, world: World):
    assert client.post("/api/v1/datasets", json=dataset_body(),
                       headers=world.auth("editor")).status_code == 201
    body = Body(300)
    answered, error = _post(server, body, world.auth("editor"))
    assert answered == 413, error
    assert error["error"]["code"] == "too_large"
    assert "größer als erlaubt (1 MB)" in error["error"]["message"]
    assert body.sent <= 16 * MIB, f"{body.sent >> 20} MiB were sent past a 1 MiB limit"
    assert _staged(world.platform) == []

    within = client.post("/api/v1/datasets/ladesaeulen/resources", headers=world.auth("editor"),
                         files={"file": ("klein.csv", b"Messstelle;Wert\nDO01;1\n", "text/csv")},
                         data={"name": "Messwerte", "header_row": "1"})
    assert within.status_code == 202, within.text
    assert within.json()["status"] == "queued"
    assert len(_staged(world.platform)) == 1


@pytest.mark.parametrize("field, value", [("header_row", "null"), ("fill_down", "vielleicht")])
def test_wrong_reading_options_are_422_naming_them_and_nothing_is_kept(client, world, field,
                                                                       value):
    assert client.post("/api/v1/datasets", json=dataset_body(),
                       headers=world.auth("editor")).status_code == 201
    response = client.post("/api/v1/datasets/ladesaeulen/resources",
                           headers=world.auth("editor"), data={field: value},
                           files={"file": ("klein.csv", b"a;b\n1;2\n", "text/csv")})
    assert response.status_code == 422, response.text
    assert [f["field"] for f in response.json()["error"]["fields"]] == [field]
    assert _staged(world.platform) == []


def test_the_upload_form_is_documented(client):
    operation = client.get("/api/v1/openapi.json").json()["paths"][
        "/api/v1/datasets/{name}/resources"]["post"]
    form = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["file"] and form["properties"]["file"]["format"] == "binary"
    assert {"name", "encoding", "delimiter", "header_row", "sheet", "crs", "fill_down"} <= \
        set(form["properties"])
    assert "413" in operation["responses"]
