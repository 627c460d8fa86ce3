"""Organizations through the REST API: create with a box or an area, validation, conflicts,
listing, reading and editing."""

from __future__ import annotations

from allmende.catalog import organizations
from support import OPERATOR

DORTMUND_BBOX = [7.30, 51.41, 7.64, 51.60]
HERNE_AREA = {"type": "Polygon", "coordinates": [[
    [7.12, 51.51], [7.29, 51.51], [7.29, 51.57], [7.18, 51.59], [7.12, 51.55], [7.12, 51.51]]]}


def _fields(response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {f["field"]: f["message"] for f in response.json()["error"]["fields"]}


def test_create_with_bbox(client, world):
    response = client.post("/api/v1/organizations", headers=world.auth("sysadmin"), json={
        "slug": "unna", "name": "Kreis Unna", "type": "district", "ags": "05978000",
        "bbox": [7.4, 51.45, 7.95, 51.7], "contact_email": "opendata@kreis-unna.example",
        "website": "https://www.kreis-unna.de", "description": "Der Kreis."})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["slug"] == "unna" and body["name"] == "Kreis Unna"
    assert body["type"] == "district" and body["ags"] == "05978000"
    assert body["bbox"] == [7.4, 51.45, 7.95, 51.7]
    assert body["area"] is None
    assert body["website"] == "https://www.kreis-unna.de"
    assert client.get("/api/v1/organizations/unna").json() == body


def test_create_with_area_derives_the_bbox(client, world):
    response = client.post("/api/v1/organizations", headers=world.auth("sysadmin"), json={
        "slug": "herne", "name": "Stadt Herne", "ags": "05916000", "area": HERNE_AREA})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["bbox"] == [7.12, 51.51, 7.29, 51.59]
    assert body["area"] == HERNE_AREA
    assert body["type"] == "municipality"


def test_create_with_multipolygon_area(client, world):
    area = {"type": "MultiPolygon", "coordinates": [
        [[[7.0, 51.0], [7.1, 51.0], [7.1, 51.1], [7.0, 51.0]]],
        [[[7.5, 51.4], [7.6, 51.4], [7.6, 51.5], [7.5, 51.4]]]]}
    response = client.post("/api/v1/organizations", headers=world.auth("sysadmin"), json={
        "slug": "verbund", "name": "Verbund", "type": "region", "area": area})
    assert response.status_code == 201, response.text
    assert response.json()["bbox"] == [7.0, 51.0, 7.6, 51.5]


def test_invalid_ags_is_422_naming_the_gemeindeschluessel(client, world):
    for ags in ("0591300", "059130001", "O5913000", "05913-00", "5913000 "):
        response = client.post("/api/v1/organizations", headers=world.auth("sysadmin"),
                               json={"slug": "falsch", "name": "Falsch", "ags": ags})
        assert "Gemeindeschlüssel" in _fields(response)["ags"], ags
    assert client.get("/api/v1/organizations/falsch").status_code == 404


INVALID_BBOXES = [
    [7.64, 51.41, 7.30, 51.60],  # lon_min > lon_max
    [7.30, 51.60, 7.64, 51.41],  # lat_min > lat_max
    [7.30, 51.41, 7.30, 51.60],  # empty
    [7.30, 51.41, 7.64],  # three numbers
    [7.30, 51.41, 7.64, 51.60, 1.0],  # five numbers
    [-190, 51.41, 7.64, 51.60],  # not WGS84
    [7.30, -91, 7.64, 51.60],
    ["a", 51.41, 7.64, 51.60],
]


def test_invalid_bbox_is_422(client, world):
    for bbox in INVALID_BBOXES:
        response = client.post("/api/v1/organizations", headers=world.auth("sysadmin"),
                               json={"slug": "falsch", "name": "Falsch", "bbox": bbox})
        assert any(f.startswith("bbox") for f in _fields(response)), bbox
    assert client.get("/api/v1/organizations/falsch").status_code == 404


INVALID_AREAS = [
    {"type": "Point", "coordinates": [7.4, 51.5]},
    {"type": "Polygon", "coordinates": [[[7.1, 51.5], [7.2, 51.5], [7.1, 51.5]]]},
    {"type": "Polygon", "coordinates": [[[7.1], [7.2, 51.5], [7.2, 51.6], [7.1, 51.5]]]},
    {"type": "Polygon", "coordinates": [[[200, 51.5], [201, 51.5], [201, 51.6], [200, 51.5]]]},
    {"type": "Polygon", "coordinates": None},
    {"type": "Polygon"},
]


def test_invalid_area_is_422(client, world):
    for area in INVALID_AREAS:
        response = client.post("/api/v1/organizations", headers=world.auth("sysadmin"),
                               json={"slug": "falsch", "name": "Falsch", "area": area})
        assert "area" in _fields(response), area
    assert client.get("/api/v1/organizations/falsch").status_code == 404


def test_other_invalid_fields(client, world):
    response = client.post("/api/v1/organizations", headers=world.auth("sysadmin"), json={
        "slug": "Groß", "name": "", "type": "verein", "unbekannt": 1})
    fields = _fields(response)
    assert set(fields) >= {"slug", "name", "type", "unbekannt"}
    assert "Kleinbuchstaben" in fields["slug"]
    assert "municipality" in fields["type"]


def test_duplicate_slug_is_409(client, world):
    response = client.post("/api/v1/organizations", headers=world.auth("sysadmin"),
                           json={"slug": "dortmund", "name": "Noch ein Dortmund"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "slug_taken"
    assert "dortmund" in response.json()["error"]["message"]
    assert client.get("/api/v1/organizations/dortmund").json()["name"] == "Stadt Dortmund"


def test_list_is_sorted_by_name(client, world, platform):
    with platform.db.session() as session:
        organizations.create_organization(session, OPERATOR, {
            "slug": "ruhr", "name": "ruhr-allianz", "type": "region"})
        organizations.create_organization(session, OPERATOR, {
            "slug": "essen", "name": "Stadt Essen", "ags": "05113000"})
    listing = client.get("/api/v1/organizations")
    assert listing.status_code == 200
    body = listing.json()
    assert body["count"] == 4
    assert [o["slug"] for o in body["results"]] == ["ruhr", "bochum", "dortmund", "essen"]
    dortmund = next(o for o in body["results"] if o["slug"] == "dortmund")
    assert dortmund["ags"] == "05913000" and dortmund["type"] == "municipality"


def test_read_unknown_is_404(client):
    response = client.get("/api/v1/organizations/atlantis")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "organization_not_found"


def test_patch_by_org_admin(client, world):
    admin = world.auth("admin")
    response = client.patch("/api/v1/organizations/dortmund", headers=admin, json={
        "description": "Offene Daten der Stadt Dortmund.", "bbox": DORTMUND_BBOX,
        "website": "https://opendata.dortmund.de"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["description"] == "Offene Daten der Stadt Dortmund."
    assert body["bbox"] == DORTMUND_BBOX
    assert body["name"] == "Stadt Dortmund" and body["ags"] == "05913000"  # untouched
    assert client.get("/api/v1/organizations/dortmund").json() == body

    area = client.patch("/api/v1/organizations/dortmund", headers=admin, json={"area": HERNE_AREA})
    assert area.status_code == 200
    assert area.json()["bbox"] == [7.12, 51.51, 7.29, 51.59]


def test_patch_validates(client, world):
    admin = world.auth("admin")
    assert "Gemeindeschlüssel" in _fields(client.patch(
        "/api/v1/organizations/dortmund", headers=admin, json={"ags": "123"}))["ags"]
    assert "bbox" in _fields(client.patch(
        "/api/v1/organizations/dortmund", headers=admin, json={"bbox": [1, 2, 0, 3]}))
    assert "area" in _fields(client.patch(
        "/api/v1/organizations/dortmund", headers=admin, json={"area": {"type": "Point"}}))
    # The slug is the organization's identity and cannot be changed.
    assert "slug" in _fields(client.patch(
        "/api/v1/organizations/dortmund", headers=admin, json={"slug": "do"}))
    unchanged = client.get("/api/v1/organizations/dortmund").json()
    assert unchanged["ags"] == "05913000" and unchanged["bbox"] is None
    assert unchanged["slug"] == "dortmund"
    assert client.patch("/api/v1/organizations/atlantis", headers=world.auth("sysadmin"),
                        json={"name": "x"}).status_code == 404


def test_patch_can_remove_the_area(client, world):
    admin = world.auth("admin")
    assert client.patch("/api/v1/organizations/dortmund", headers=admin,
                        json={"area": HERNE_AREA}).status_code == 200
    cleared = client.patch("/api/v1/organizations/dortmund", headers=admin, json={"area": None})
    assert cleared.status_code == 200
    assert cleared.json()["area"] is None
    assert client.get("/api/v1/organizations/dortmund").json()["area"] is None


def test_dataset_of_an_organization_gets_its_ags_as_spatial(client, world):
    response = client.post("/api/v1/datasets", headers=world.auth("bochum-editor"), json={
        "name": "bochum-test", "title": "T", "description": "D", "organization": "bochum"})
    assert response.json()["spatial"] == \
        "http://dcat-ap.de/def/politicalGeocoding/municipalityKey/05911000"
    assert response.json()["organization"] == {
        "slug": "bochum", "name": "Stadt Bochum", "type": "municipality", "ags": "05911000"}
