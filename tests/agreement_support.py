"""A world with datasets at every access level, each with a table of points, and people
holding agreements on the restricted one: active, expired and revoked (the seed of the
agreement and authorization matrix tests)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from allmende.access import accounts, agreements
from allmende.access.mail import Mailer
from allmende.catalog import datasets
from allmende.db.models import User
from allmende.ingest.service import IngestRequest, ingest
from allmende.platform import Platform
from support import OPERATOR, PASSWORD

KINDS = ("Spielplatz", "Schule", "Kita")
ROWS = 9
#: dataset name per access level
LEVELS = {"public": "offen", "members": "intern", "restricted": "geheim"}
HOLDERS = ("holder", "expired-holder", "revoked-holder")
DAY = dt.timedelta(days=1)


def points(rows: int = ROWS) -> str:
    lines = ["Name;Art;Anzahl;Breitengrad;Längengrad"]
    for i in range(rows):
        lines.append(f"Ort {i + 1};{KINDS[i % 3]};{i};51,{40 + i};7,{20 + i}")
    return "\n".join(lines) + "\n"


def seed(platform: Platform, seeded: dict[str, Any]) -> dict[str, Any]:
    """Datasets offen (public), intern (members), geheim (restricted) of Dortmund with a table
    each; the users of HOLDERS with a token; holder's agreement on geheim is active,
    expired-holder's ended yesterday, revoked-holder's was revoked."""
    found: dict[str, Any] = {"tokens": dict(seeded["tokens"]), "resources": {}}
    for level, name in LEVELS.items():
        with platform.db.session() as session:
            datasets.create_dataset(session, OPERATOR, {
                "name": name, "title": f"Orte {name}", "organization": "dortmund",
                "description": f"Orte ({level}).", "access_level": level})
        path = Path(platform.settings.data_dir) / f"{name}.csv"
        path.write_text(points(), encoding="utf-8")
        found["resources"][name] = ingest(platform, OPERATOR, IngestRequest(
            name, path, f"{name}.csv")).resource
        path.unlink()
    now = dt.datetime.now(dt.UTC)
    with platform.db.session() as session:
        for key in HOLDERS:
            user = accounts.create_user(session, f"{key}@test.allmende.de", PASSWORD,
                                        name=key)
            found["tokens"][key] = accounts.create_token(session, user.id, "tests").secret
            ended = key == "expired-holder"
            record = agreements.grant(session, OPERATOR, agreements.Grant(
                dataset="geheim", assignee=user.id,
                valid_from=now - (10 * DAY if ended else DAY),
                valid_until=now - DAY if ended else now + 30 * DAY,
                purpose="forschung", purpose_text="Spielplatzversorgung je Stadtteil"))
            if key == "revoked-holder":
                agreements.revoke(session, OPERATOR, record.uid, "Zweck entfallen",
                                  Mailer(platform.settings))
            found[f"{key}-agreement"] = record.uid
    return found


def user_id(platform: Platform, key: str) -> int:
    with platform.db.session() as session:
        return session.query(User).filter_by(email=f"{key}@test.allmende.de").one().id


def auth(tokens: dict[str, str], key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[key]}"} if key else {}
