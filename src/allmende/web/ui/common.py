"""What every UI handler shares: the actor on request.state, form parsing, redirects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from allmende.access.policy import Actor
from allmende.web.deps import ActorDep, check_csrf
from allmende.web.i18n import language_of, translations


def remember_actor(request: Request, actor: ActorDep) -> None:
    """Makes the actor known to error pages rendered outside the handlers."""
    request.state.actor = actor


async def read_form(request: Request) -> FormData:
    return await request.form()


FormDep = Annotated[FormData, Depends(read_form)]


def redirect(url: str) -> RedirectResponse:
    """After a successful POST: see other (303), so reloading does not repeat it."""
    return RedirectResponse(url, status_code=303)


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)


def form_refused(request: Request, form: FormData, actor: Actor) -> Response | None:
    """What a form sent without its CSRF token (403) or signed out (to the sign-in page) gets
    instead of the change; None when the change may go on."""
    check_csrf(request, str(form.get("csrf_token") or ""))
    return None if actor.is_authenticated else login_redirect(request)


def language(request: Request) -> str:
    return language_of(request)


def gettext_for(request: Request) -> Callable[[str], str]:
    """Translates messages the handlers make themselves (e.g. form errors) into the page's
    language."""
    return translations(language_of(request)).gettext
