"""The REST API for datasets: CRUD, validation, errors, soft delete and history."""

from __future__ import annotations

from support import dataset_body


def test_create_read_update_delete_restore(client, world):
    editor, admin = world.auth("editor"), world.auth("admin")
    created = client.post("/api/v1/datasets", json=dataset_body(), headers=editor)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["license"] == "dl-by-de/2.0"
    assert body["access_level"] == "public"
    assert body["spatial"] == \
        "http://dcat-ap.de/def/politicalGeocoding/municipalityKey/05913000"
    assert body["organization"]["slug"] == "dortmund"

    patched = client.patch("/api/v1/datasets/ladesaeulen", headers=editor,
                           json={"title": "Ladesäulen (aktualisiert)", "keywords": ["E-Auto"]})
    assert patched.status_code == 200, patched.text
    assert patched.json()["title"] == "Ladesäulen (aktualisiert)"

    assert client.delete("/api/v1/datasets/ladesaeulen", headers=editor).status_code == 403
    assert client.delete("/api/v1/datasets/ladesaeulen", headers=admin).status_code == 204
    assert client.get("/api/v1/datasets/ladesaeulen").status_code == 404
    assert client.get("/api/v1/datasets/ladesaeulen", headers=admin).json()["deleted"] is True
    restored = client.post("/api/v1/datasets/ladesaeulen/restore", headers=admin)
    assert restored.status_code == 200 and restored.json()["deleted"] is False

    history = client.get("/api/v1/datasets/ladesaeulen/activity").json()
    actions = [a["action"] for a in history["results"]]
    assert actions == ["restored", "deleted", "updated", "created"]
    assert history["results"][2]["changes"]["title"] == \
        ["E-Ladesäulen in Dortmund", "Ladesäulen (aktualisiert)"]
    assert history["results"][2]["user"] == "editor"
    assert history["results"][2]["user_email"] is None  # personal data, not for anonymous
    signed_in = client.get("/api/v1/datasets/ladesaeulen/activity", headers=editor).json()
    assert signed_in["results"][2]["user_email"] == "editor@test.allmende.de"


def test_invalid_metadata_gets_a_message_per_field(client, world):
    response = client.post("/api/v1/datasets", headers=world.auth("editor"), json=dataset_body(
        name="Nicht Gültig", title="", license="gibts-nicht", themes=["XYZ"],
        contact_point="keine adresse", temporal_start="2024-05-01", temporal_end="2023-01-01"))
    assert response.status_code == 422
    fields = {f["field"]: f["message"] for f in response.json()["error"]["fields"]}
    assert set(fields) >= {"name", "title", "license", "themes", "contact_point", "temporal_end"}
    assert "Kleinbuchstaben" in fields["name"]
    assert "Lizenz" in fields["license"]
    assert client.get("/api/v1/datasets").json()["count"] == 0


def test_duplicate_name_is_409_and_writes_nothing(client, world):
    editor = world.auth("editor")
    assert client.post("/api/v1/datasets", json=dataset_body(), headers=editor).status_code == 201
    again = client.post("/api/v1/datasets", headers=editor,
                        json=dataset_body(title="Anderer Titel"))
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "name_taken"
    assert client.get("/api/v1/datasets/ladesaeulen").json()["title"] == \
        "E-Ladesäulen in Dortmund"


def test_missing_or_bad_token_is_401(client, world):
    assert client.post("/api/v1/datasets", json=dataset_body()).status_code == 401
    bad = client.post("/api/v1/datasets", json=dataset_body(),
                      headers={"Authorization": "Bearer alm_falsch"})
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "bad_token"
    assert client.get("/api/v1/datasets", headers={"Authorization": "Basic x"}).status_code == 401


def test_unknown_organization_is_404(client, world):
    response = client.post("/api/v1/datasets", headers=world.auth("sysadmin"),
                           json=dataset_body(organization="atlantis"))
    assert response.status_code == 404
    assert "atlantis" in response.json()["error"]["message"]


def test_patch_rejects_unknown_and_invalid_fields(client, world):
    editor = world.auth("editor")
    client.post("/api/v1/datasets", json=dataset_body(), headers=editor)
    unknown = client.patch("/api/v1/datasets/ladesaeulen", json={"name": "neu"}, headers=editor)
    assert unknown.status_code == 422
    invalid = client.patch("/api/v1/datasets/ladesaeulen", json={"access_level": "geheim"},
                           headers=editor)
    assert invalid.status_code == 422
    assert invalid.json()["error"]["fields"][0]["field"] == "access_level"


def test_links_and_resources(client, world):
    editor = world.auth("editor")
    client.post("/api/v1/datasets", json=dataset_body(), headers=editor)
    link = client.post("/api/v1/datasets/ladesaeulen/links", headers=editor,
                       json={"name": "Ladesäulen (CSV)", "format": "csv",
                             "url": "https://opendata.dortmund.de/ladesaeulen.csv"})
    assert link.status_code == 201, link.text
    resource = client.get(f"/api/v1/resources/{link.json()['id']}").json()
    assert resource["format"] == "CSV" and resource["dataset"] == "ladesaeulen"
    assert client.get("/api/v1/datasets/ladesaeulen").json()["resources"][0]["name"] == \
        "Ladesäulen (CSV)"
    facets = client.get("/api/v1/datasets").json()["facets"]
    assert facets["format"] == [{"value": "CSV", "label": "CSV", "count": 1}]


def test_user_text_is_stored_verbatim_and_never_executed(client, world):
    hostile = "<script>alert(1)</script>'; DROP TABLE datasets; --"
    response = client.post("/api/v1/datasets", headers=world.auth("editor"),
                           json=dataset_body(title=hostile, description=hostile,
                                             keywords=[hostile]))
    assert response.status_code == 201
    assert client.get("/api/v1/datasets/ladesaeulen").json()["title"] == hostile
    assert client.get("/api/v1/datasets", params={"q": hostile}).status_code == 200
    page = client.get("/datasets/ladesaeulen", headers={"accept": "text/html"})
    assert "<script>alert(1)</script>" not in page.text


def test_openapi_and_docs_are_served_without_cdn(client):
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/datasets" in spec["paths"]
    docs = client.get("/api/docs").text
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs
    assert "cdn" not in docs.lower()
    assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200
    assert client.get("/healthz").json() == {"status": "ok"}
