"""/api/v1/organizations, /api/v1/me and the caller's API tokens."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Body, Response

from allmende.access import accounts
from allmende.catalog import organizations as service
from allmende.catalog.organizations import OrganizationCreate, OrganizationPatch
from allmende.web.api.params import Id
from allmende.web.api.responses import AUTH, WRITE, errors
from allmende.web.api.schemas import (
    MeOut,
    NewTokenOut,
    OrganizationList,
    OrganizationOut,
    TokenList,
    TokenOut,
)
from allmende.web.deps import ActorDep, SessionDep, UserDep

router = APIRouter()


@router.get("/organizations", response_model=OrganizationList, tags=["Organisationen"],
            summary="Organisationen auflisten", responses=errors(422))
def list_all(session: SessionDep) -> OrganizationList:
    items = [OrganizationOut.of(o) for o in service.list_organizations(session)]
    return OrganizationList(count=len(items), results=items)


@router.post("/organizations", status_code=201, response_model=OrganizationOut,
             tags=["Organisationen"], summary="Organisation anlegen (Sysadmin)",
             responses=errors(*WRITE, 400, 409))
def create(body: OrganizationCreate, session: SessionDep, actor: ActorDep) -> OrganizationOut:
    return OrganizationOut.of(service.create_organization(session, actor, body.model_dump()))


@router.get("/organizations/{slug}", response_model=OrganizationOut, tags=["Organisationen"],
            summary="Organisation lesen", responses=errors(404, 422))
def read(slug: str, session: SessionDep) -> OrganizationOut:
    return OrganizationOut.of(service.get_organization(session, slug))


@router.patch("/organizations/{slug}", response_model=OrganizationOut, tags=["Organisationen"],
              summary="Organisation ändern (Admins der Organisation)",
              responses=errors(*WRITE, 400, 404))
def patch(slug: str, body: OrganizationPatch, session: SessionDep,  # type: ignore[valid-type]
          actor: ActorDep) -> OrganizationOut:
    changes = body.model_dump(exclude_unset=True)  # type: ignore[attr-defined]
    return OrganizationOut.of(service.update_organization(session, actor, slug, changes))


@router.get("/me", response_model=MeOut, tags=["Konto"], summary="Wer bin ich?",
            responses=errors(*AUTH, 422))
def me(actor: ActorDep, session: SessionDep) -> MeOut:
    slugs = {o.id: o.slug for o in service.list_organizations(session)}
    return MeOut(email=actor.email, name=actor.name, sysadmin=actor.is_sysadmin,
                 organizations={slugs[o]: role for o, role in actor.roles.items()})


@router.get("/me/tokens", response_model=TokenList, tags=["Konto"], summary="Meine API-Tokens",
            responses=errors(*AUTH, 422))
def tokens(actor: UserDep, session: SessionDep) -> TokenList:
    items = [TokenOut.of(t) for t in accounts.my_tokens(session, actor)]
    return TokenList(count=len(items), results=items)


@router.post("/me/tokens", status_code=201, response_model=NewTokenOut, tags=["Konto"],
             summary="API-Token erzeugen (wird nur einmal angezeigt)",
             responses=errors(*WRITE, 400))
def create_token(actor: UserDep, session: SessionDep,
                 name: str = Body("API-Token", embed=True),
                 expires_at: dt.datetime | None = Body(
                     None, embed=True, description="Ablauf (ISO 8601 mit Zeitzone); "
                     "ohne: gültig bis zum Widerruf")) -> NewTokenOut:
    new = accounts.create_my_token(session, actor, name, expires_at)
    return NewTokenOut(**TokenOut.of(new.token).model_dump(), token=new.secret)


@router.delete("/me/tokens/{token_id}", status_code=204, tags=["Konto"],
               summary="API-Token widerrufen", responses=errors(*WRITE, 404))
def revoke_token(token_id: Id, actor: UserDep, session: SessionDep) -> Response:
    accounts.revoke_my_token(session, actor, token_id)
    return Response(status_code=204)
