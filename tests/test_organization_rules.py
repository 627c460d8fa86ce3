"""Service rules for organizations and memberships that every interface relies on."""

from __future__ import annotations

import pytest

from allmende.access import accounts
from allmende.catalog import organizations
from allmende.errors import Conflict, Invalid
from support import OPERATOR

SQUARE = {"type": "Polygon",
          "coordinates": [[[7.3, 51.4], [7.6, 51.4], [7.6, 51.6], [7.3, 51.6], [7.3, 51.4]]]}


def test_an_invalid_area_changes_nothing_else(platform, world):
    with platform.db.session() as session, pytest.raises(Invalid) as raised:
        organizations.update_organization(session, OPERATOR, "dortmund", {
            "name": "Umbenannt", "area": {"type": "Polygon", "coordinates": [[[7.3]]]}})
    assert [f.field for f in raised.value.field_errors] == ["area"]
    with platform.db.session() as session:
        assert organizations.get_organization(session, "dortmund").name == "Stadt Dortmund"


def test_area_sets_the_bounding_box_and_can_be_removed(platform, world):
    with platform.db.session() as session:
        organization = organizations.update_organization(
            session, OPERATOR, "dortmund", {"area": SQUARE})
        assert organization.bbox == [7.3, 51.4, 7.6, 51.6]
    with platform.db.session() as session:
        organization = organizations.update_organization(
            session, OPERATOR, "dortmund", {"area": None})
        assert organization.area is None and organization.bbox == [7.3, 51.4, 7.6, 51.6]


@pytest.mark.parametrize(("field", "value"), [
    ("website", "dortmund.de"), ("logo_url", "ftp://x/logo.png"), ("contact_email", "keine")])
def test_contact_fields_are_checked(platform, world, field, value):
    with platform.db.session() as session, pytest.raises(Invalid) as raised:
        organizations.update_organization(session, OPERATOR, "dortmund", {field: value})
    assert raised.value.field_errors[0].field == field


def test_the_last_admin_can_be_neither_demoted_nor_removed(platform, world):
    with platform.db.session() as session:
        admin = accounts.get_user(session, "admin@test.allmende.de")
        dortmund = organizations.get_organization(session, "dortmund")
        with pytest.raises(Conflict, match="mindestens eine Person"):
            accounts.set_membership(session, OPERATOR, admin, dortmund, "editor")
        with pytest.raises(Conflict):
            accounts.remove_membership(session, OPERATOR, admin, dortmund)
        editor = accounts.get_user(session, "editor@test.allmende.de")
        accounts.set_membership(session, OPERATOR, editor, dortmund, "admin")
        accounts.set_membership(session, OPERATOR, admin, dortmund, "member")
        roles = {m.user.email: m.role for m in accounts.list_members(session, OPERATOR, dortmund)}
    assert roles["admin@test.allmende.de"] == "member"
    assert roles["editor@test.allmende.de"] == "admin"
