"""Shared test helpers: a small world of organizations, users and tokens, and request bodies."""

from __future__ import annotations

import os

from allmende.access import accounts
from allmende.access.policy import Actor
from allmende.catalog import organizations
from allmende.platform import Platform

OPERATOR = Actor(is_sysadmin=True, name="tests")
PASSWORD = "richtig-langes-passwort"
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("ALLMENDE_TEST_DATABASE_URL") else [])


class World:
    """Organizations and users with every role, and their API tokens."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.tokens: dict[str, str] = {}
        with platform.db.session() as session:
            for slug, name, ags in (("dortmund", "Stadt Dortmund", "05913000"),
                                    ("bochum", "Stadt Bochum", "05911000")):
                organizations.create_organization(
                    session, OPERATOR, {"slug": slug, "name": name, "ags": ags})
            self._user(session, "sysadmin", sysadmin=True)
            for role in ("admin", "editor", "member"):
                self._user(session, role, org="dortmund", role=role)
            self._user(session, "bochum-editor", org="bochum", role="editor")
            self._user(session, "outsider")

    def _user(self, session, key: str, org: str | None = None, role: str | None = None,
              sysadmin: bool = False) -> None:
        user = accounts.create_user(session, f"{key}@test.allmende.de", PASSWORD,
                                    name=key, sysadmin=sysadmin)
        if org:
            organization = organizations.get_organization(session, org)
            accounts.set_membership(session, OPERATOR, user, organization, role)
        self.tokens[key] = accounts.create_token(session, user.id, "tests").secret

    def auth(self, key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[key]}"} if key else {}


def dataset_body(name: str = "ladesaeulen", organization: str = "dortmund", **extra) -> dict:
    return {"name": name, "title": "E-Ladesäulen in Dortmund",
            "description": "Standorte der öffentlichen Ladesäulen an Dortmunder Straßen.",
            "organization": organization, "keywords": ["Elektromobilität"],
            "themes": ["TRAN"], **extra}
