"""The demo's data requests: an organization's conditions of use, a request approved into an
agreement whose holder has read the data a few times, and a request waiting in the owner's
inbox. Everything goes through the services a browser or API client uses, so the inbox, the
agreement and the public log show real records from the first start (idempotent: a requester
who already asked for a dataset is left as they are)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from allmende.access import accounts, requests
from allmende.access.mail import Mailer
from allmende.access.policy import Actor
from allmende.catalog import datasets
from allmende.db.models import DataRequest, Membership, User
from allmende.platform import Platform
from allmende.tables import query as queries
from allmende.tables.reader import open_table
from allmende.transparency import checkpoints
from allmende.transparency.reads import Interface

DATA = Path(__file__).parent / "data" / "requests.json"


def seed_requests(platform: Platform, seeder: Actor) -> tuple[int, int]:
    """Create the demo's conditions and requests that are missing; (requests made, reads)."""
    plan = json.loads(DATA.read_text(encoding="utf-8"))
    made = reads = 0
    mailer = Mailer(platform.settings)
    with platform.db.session() as session:
        for entry in plan["conditions"]:
            if requests.current_conditions(session, entry["organization"]) is None:
                requests.set_conditions(session, seeder, entry["organization"], entry["text"])
    for entry in plan["requests"]:
        with platform.db.session() as session:
            if _asked_before(session, entry):
                continue
            _request(session, entry, mailer)
        made += 1
        reads += _reads(platform, entry)
    if made:
        with platform.db.session() as session:
            checkpoints.publish(session, platform.settings)
    return made, reads


def _actor(session: Session, email: str) -> Actor:
    return accounts.actor_for(accounts.get_user(session, email))


def _asked_before(session: Session, entry: dict[str, Any]) -> bool:
    dataset = datasets.get_dataset(session, _actor(session, entry["requester"]),
                                   entry["dataset"])
    return session.scalar(select(DataRequest.id).join(User, DataRequest.requester).where(
        User.email == entry["requester"], DataRequest.dataset_id == dataset.id)) is not None


def _request(session: Session, entry: dict[str, Any], mailer: Mailer) -> None:
    """Filled in, conditions accepted and submitted; decided by an admin of the owner when the
    plan says so."""
    requester = _actor(session, entry["requester"])
    dataset = datasets.get_dataset(session, requester, entry["dataset"])
    conditions = requests.current_conditions(session, dataset.organization.slug)
    fields = {**entry["fields"], "dataset": dataset.name,
              "accepted_conditions": conditions.version if conditions else None}
    made = requests.create_request(session, requester, fields, entry["language"])
    requests.transition(session, requester, made.id, "submit", "", mailer)
    if "approve" in entry:
        admin = _actor(session, _admin_of(session, dataset.organization_id))
        requests.transition(session, admin, made.id, "approve", entry["approve"], mailer)


def _admin_of(session: Session, organization_id: int) -> str:
    return session.scalars(select(User.email).join(Membership, Membership.user_id == User.id)
                           .where(Membership.organization_id == organization_id,
                                  Membership.role == "admin").order_by(User.id)).first()


def _reads(platform: Platform, entry: dict[str, Any]) -> int:
    """The agreement holder's reads, each one access as through the data API (counted by the
    agreement and written to the transparency log)."""
    for params in entry.get("reads", []):
        with platform.db.session() as session:
            reader = _actor(session, entry["requester"])
            dataset = datasets.get_dataset(session, reader, entry["dataset"])
            resource = next(r for r in dataset.resources if r.current_version)
            table = open_table(session, reader, platform.settings.data_dir, resource.id,
                               interface=Interface.ROWS)
            table.rows(queries.parse_query(params, table.schema))
    return len(entry.get("reads", []))
