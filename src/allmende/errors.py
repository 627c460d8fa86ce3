"""One error hierarchy for every interface.

Services raise these; the REST API, the CKAN and OGC adapters and the CLI each translate them in
one place. Messages are German, because they reach municipal users directly; those made with
:func:`msg` remember their template and parameters, so the web layer can also show them in
English (``allmende.web.i18n.localize``) while everything else keeps using the German text.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Param = str | int | float | None


class Message(str):
    """A German message (its value) that also carries the German template it was formatted
    from and the parameters, so that it can be rendered again in another language.

    Being a ``str``, it goes wherever a message went before: comparisons, ``in``, JSON, the
    CLI all see the German text. String operations (``+``, ``replace``) return a plain ``str``
    and lose the template, so compose messages with a template that has a ``{placeholder}``
    for the other message instead."""

    template: str
    params: dict[str, Param | Message]

    def __new__(cls, template: str, params: Mapping[str, Param | Message] | None = None
                ) -> Message:
        values = dict(params or {})
        self = super().__new__(cls, template.format(**values))
        self.template = template
        self.params = values
        return self

    def __reduce__(self) -> tuple[type[Message], tuple[str, dict[str, Param | Message]]]:
        return Message, (self.template, self.params)

    def render(self, translate: Callable[[str], str | None]) -> str:
        """The message with ``translate(template)`` as its template (``None``: untranslated,
        the German text). Parameters that are messages themselves are rendered the same way;
        other parameters (file names, numbers, column names) stay as they are."""
        template = translate(self.template)
        if template is None and not _has_words(self.template):
            template = self.template  # e.g. a list made by joined(): the same in any language
        if template is None:
            return str(self)
        values = {k: v.render(translate) if isinstance(v, Message) else v
                  for k, v in self.params.items()}
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError):  # a broken translation must not hide it
            return str(self)

    def to_json(self) -> dict[str, Any]:
        """Template and parameters as JSON (for messages stored with a failed job)."""
        return {"template": self.template, "params": {
            k: v.to_json() if isinstance(v, Message) else _json_param(v)
            for k, v in self.params.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Message:
        params = {k: cls.from_json(v) if isinstance(v, Mapping) else v
                  for k, v in data.get("params", {}).items()}
        return cls(data["template"], params)


def _has_words(template: str) -> bool:
    return any(character.isalpha() for literal, *_ in string.Formatter().parse(template)
               for character in literal)


def _json_param(value: object) -> Param:
    return value if value is None or isinstance(value, str | int | float) else str(value)


#: Where a stored message (a failed job's error, a version's warning, a quality report's
#: sample) keeps its template and parameters, so that it can be shown in the reader's language
#: long after it was made.
TEMPLATE_KEY = "i18n"


def stored(message: str) -> dict[str, Any]:
    """A message as it is kept in the database or printed as JSON: the German text under
    ``message``, and under ``i18n`` its template and parameters when it has them."""
    entry: dict[str, Any] = {"message": str(message)}
    if isinstance(message, Message):
        entry[TEMPLATE_KEY] = message.to_json()
    return entry


def restored(entry: Mapping[str, Any] | str) -> str:
    """A message kept by :func:`stored`, as a :class:`Message` again when it was one. Plain
    text (kept before messages had templates, or never a message) comes back as it is."""
    if not isinstance(entry, Mapping):
        return entry  # a message (or text) as it is
    german = str(entry.get("message", ""))
    template = entry.get(TEMPLATE_KEY)
    if not isinstance(template, Mapping):
        return german
    try:
        return Message.from_json(template)
    except (KeyError, IndexError, ValueError, TypeError, AttributeError):  # old or damaged
        return german


def without_template(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A stored entry as the outside sees it: the German text, no template."""
    return {k: v for k, v in entry.items() if k != TEMPLATE_KEY}


def neutral(template: str, /, **params: Param | Message) -> Message:
    """A message whose template has no words, only placeholders and punctuation (``"{where}:
    {problem}"``): the same in every language, so it needs no translation; the messages among
    its parameters are rendered in the reader's language."""
    if _has_words(template):
        raise ValueError(f"not a neutral template: {template!r}")
    return Message(template, params)


def joined(items: Sequence[Param | Message], separator: str = ", ") -> Message:
    """``items`` one after the other (``a, b, c``), as a :func:`neutral` message."""
    params = {f"item{i}": item for i, item in enumerate(items)}
    return neutral(separator.join(f"{{{name}}}" for name in params), **params)


def msg(template: str, /, **params: Param | Message) -> Message:
    """``msg("{name} enthält keine Datenzeilen.", name=original_name)``: the German text, with
    its template kept for translation (``services.po`` has the English template, keyed by
    this German one)."""
    return Message(template, params)


@dataclass
class FieldError:
    field: str
    message: str


@dataclass
class AllmendeError(Exception):
    message: str
    code: str = "error"
    status: int = 500
    field_errors: list[FieldError] = field(default_factory=list)

    def __str__(self) -> str:
        if not self.field_errors:
            return self.message
        details = "; ".join(f"{e.field}: {e.message}" for e in self.field_errors)
        return f"{self.message} ({details})"


class NotFound(AllmendeError):
    def __init__(self, message: str, code: str = "not_found") -> None:
        super().__init__(message, code, 404)


class Unauthorized(AllmendeError):
    def __init__(self, message: str = msg("Anmeldung erforderlich."),
                 code: str = "unauthorized") -> None:
        super().__init__(message, code, 401)


class Forbidden(AllmendeError):
    def __init__(self, message: str = msg("Dafür fehlt Ihnen die Berechtigung."),
                 code: str = "forbidden") -> None:
        super().__init__(message, code, 403)


class BadRequest(AllmendeError):
    """HTTP 400: the request cannot be answered as asked (e.g. ``limit`` above 10,000)."""

    def __init__(self, message: str, code: str = "bad_request") -> None:
        super().__init__(message, code, 400)


class TooLarge(AllmendeError):
    """HTTP 413: too large (an upload above the limit, an export above the sheet limit)."""

    def __init__(self, message: str, code: str = "too_large") -> None:
        super().__init__(message, code, 413)


class Conflict(AllmendeError):
    def __init__(self, message: str, code: str = "conflict") -> None:
        super().__init__(message, code, 409)


class Invalid(AllmendeError):
    def __init__(self, message: str = msg("Die Angaben sind ungültig."),
                 field_errors: list[FieldError] | None = None,
                 code: str = "invalid") -> None:
        super().__init__(message, code, 422, field_errors or [])


class TooManyRequests(AllmendeError):
    """HTTP 429: try again after ``retry_after`` seconds (sent as ``Retry-After``)."""

    def __init__(self, message: str, retry_after: int, code: str = "too_many_requests") -> None:
        super().__init__(message, code, 429)
        self.retry_after = retry_after
