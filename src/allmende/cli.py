"""The ``allmende`` command: a thin layer over the services.

Exit status: 0 done, 1 input read but invalid or rejected, 2 wrong call or unreadable path.
With ``--json`` exactly one JSON object goes to stdout; messages go to stderr.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

from allmende.access.policy import Actor
from allmende.errors import AllmendeError, NotFound, msg, stored

if TYPE_CHECKING:
    from allmende.platform import Platform

# Services are imported inside the commands: `allmende validate` needs no database, and a
# command's start-up time counts in every benchmark of a whole process.

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="allmende – die offene Datenplattform der Kommunen einer Region.")
db_app = typer.Typer(no_args_is_help=True, help="Datenbank verwalten.")
org_app = typer.Typer(no_args_is_help=True, help="Organisationen verwalten.")
user_app = typer.Typer(no_args_is_help=True, help="Konten verwalten.")
token_app = typer.Typer(no_args_is_help=True, help="API-Tokens verwalten.")
app.add_typer(db_app, name="db")
app.add_typer(org_app, name="org")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
mapping_app = typer.Typer(no_args_is_help=True, help="Zuordnungen zu gemeinsamen Schemas.")
app.add_typer(mapping_app, name="mapping")
schema_app = typer.Typer(no_args_is_help=True, help="Gemeinsame Schemas ansehen.")
app.add_typer(schema_app, name="schema")
harvest_app = typer.Typer(no_args_is_help=True, help="Andere Portale übernehmen (Harvesting).")
harvest_source_app = typer.Typer(no_args_is_help=True, help="Harvest-Quellen verwalten.")
harvest_app.add_typer(harvest_source_app, name="source")
app.add_typer(harvest_app, name="harvest")
log_app = typer.Typer(no_args_is_help=True, help="Das Transparenzprotokoll prüfen und signieren.")
app.add_typer(log_app, name="log")

stderr = Console(stderr=True, soft_wrap=True)
# The CLI is run by the operators of the platform, who act with full rights.
OPERATOR = Actor(is_sysadmin=True, name="allmende CLI")


class State:
    data_dir: Path | None = None
    debug: bool = False


state = State()


@app.callback()
def main_options(
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", help="Datenverzeichnis (sonst ALLMENDE_DATA_DIR, sonst ./data)")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Fehler mit Traceback zeigen")] = False,
) -> None:
    state.data_dir = data_dir
    state.debug = debug


def platform() -> Platform:
    """The platform over the configured data directory and database, migrated."""
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from allmende.config import Settings
    from allmende.db.session import UnsupportedDatabase
    from allmende.platform import Platform

    settings = Settings(data_dir=state.data_dir) if state.data_dir else Settings()
    try:
        instance = Platform(settings)
    except OSError as error:
        stderr.print(f"[red]Fehler:[/red] Das Datenverzeichnis {settings.data_dir} ist nicht "
                     f"nutzbar: {error.strerror or error}.")
        raise typer.Exit(2) from None
    except ArgumentError:
        stderr.print("[red]Fehler:[/red] ALLMENDE_DATABASE_URL ist keine gültige Datenbank-URL.")
        raise typer.Exit(2) from None
    except UnsupportedDatabase as error:
        stderr.print(f"[red]Fehler:[/red] ALLMENDE_DATABASE_URL: {error}")
        raise typer.Exit(2) from None
    try:
        instance.upgrade()
    except SQLAlchemyError as error:
        if state.debug:
            raise
        stderr.print("[red]Fehler:[/red] Die Datenbank ist nicht erreichbar oder lässt sich "
                     f"nicht migrieren: {str(error.orig or error).strip()}")
        raise typer.Exit(1) from None
    return instance


def unforeseen(error: Exception) -> AllmendeError:
    """An error nobody foresaw, in one line: what kind it was and what it said (``--debug``
    shows the traceback)."""
    lines = str(error).strip().splitlines()
    detail = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    return AllmendeError(msg("Interner Fehler ({detail}). Mit --debug zeigt allmende, wo er "
                             "auftrat.", detail=detail), "internal", 500)


def fail(error: AllmendeError, as_json: bool = False) -> NoReturn:
    if as_json:
        print(json.dumps({"error": {"code": error.code, "message": str(error)}},
                         ensure_ascii=False))
    else:
        stderr.print(f"[red]Fehler:[/red] {error}")
    raise typer.Exit(1)


def emit(result: dict[str, Any], as_json: bool, text: str) -> None:
    if as_json:
        print(json.dumps(result, ensure_ascii=False, default=str))
    else:
        stderr.print(text)


JsonOption = Annotated[bool, typer.Option("--json", help="Ergebnis als ein JSON-Objekt")]


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Datenbank auf den neuesten Stand migrieren."""
    platform().close()
    stderr.print("Datenbank ist auf dem neuesten Stand.")


@org_app.command("create")
def org_create(
    slug: str,
    name: Annotated[str, typer.Option(help="Anzeigename, z. B. „Stadt Dortmund“")],
    ags: Annotated[str | None, typer.Option(help="Amtlicher Gemeindeschlüssel (8 Ziffern)")] = None,
    type: Annotated[str, typer.Option(help="municipality|district|region|company|research")] =
        "municipality",
    bbox: Annotated[str | None, typer.Option(help="LON_MIN,LAT_MIN,LON_MAX,LAT_MAX (WGS84)")] =
        None,
    as_json: JsonOption = False,
) -> None:
    """Organisation anlegen."""
    from allmende.catalog import organizations

    data: dict[str, Any] = {"slug": slug, "name": name, "ags": ags, "type": type}
    if bbox:
        try:
            data["bbox"] = [float(v) for v in bbox.split(",")]
        except ValueError:
            data["bbox"] = []
        if len(data["bbox"]) != 4:
            stderr.print("Fehler: --bbox erwartet vier Zahlen, getrennt durch Kommas: "
                         "LON_MIN,LAT_MIN,LON_MAX,LAT_MAX.")
            raise typer.Exit(2)
    with _unit_of_work(as_json) as session:
        org = organizations.create_organization(session, OPERATOR, data)
        emit({"slug": org.slug, "name": org.name, "ags": org.ags, "type": org.type,
              "bbox": org.bbox}, as_json, f"Organisation „{org.slug}“ angelegt.")


@user_app.command("create")
def user_create(
    email: str,
    password: Annotated[str, typer.Option(help="Mindestens 10 Zeichen")],
    name: Annotated[str, typer.Option(help="Anzeigename")] = "",
    org: Annotated[str | None, typer.Option(help="Organisation (Kennung)")] = None,
    role: Annotated[str, typer.Option(help="admin|editor|member")] = "member",
    sysadmin: Annotated[bool, typer.Option("--sysadmin", help="Globaler Administrator")] = False,
    as_json: JsonOption = False,
) -> None:
    """Konto anlegen, optional mit Rolle in einer Organisation."""
    from allmende.access import accounts
    from allmende.catalog import organizations

    with _unit_of_work(as_json) as session:
        user = accounts.create_user(session, email, password, name=name, sysadmin=sysadmin)
        if org:
            organization = organizations.get_organization(session, org)
            accounts.set_membership(session, OPERATOR, user, organization, role)
        emit({"email": user.email, "sysadmin": user.is_sysadmin,
              "organizations": {org: role} if org else {}}, as_json,
             f"Konto {user.email} angelegt.")


@token_app.command("create")
def token_create(
    email: str,
    name: Annotated[str, typer.Option(help="Wofür das Token ist")] = "CLI",
    days: Annotated[int | None, typer.Option(
        "--days", min=1, max=36500, help="Gültig so viele Tage (ohne: bis zum Widerruf)")] = None,
) -> None:
    """API-Token erzeugen; gibt nur das Token auf stdout aus."""
    import datetime as dt

    from allmende.access import accounts

    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=days) if days else None
    with _unit_of_work(False) as session:
        user = accounts.get_user(session, email)
        print(accounts.create_token(session, user.id, name, expires).secret)


@app.command("ingest")
def ingest_command(
    file: Annotated[Path, typer.Argument(help="Die Datei, so wie sie ist")],
    org: Annotated[str, typer.Option("--org", help="Organisation (Kennung)")],
    dataset: Annotated[str, typer.Option("--dataset", help="Datensatz (Kennung)")],
    title: Annotated[str | None, typer.Option(help="Titel, falls der Datensatz neu ist")] = None,
    resource: Annotated[str | None, typer.Option(help="Name der Ressource (sonst Dateiname)")] =
        None,
    access: Annotated[str | None, typer.Option(help="public|members|restricted")] = None,
    sheet: Annotated[str | None, typer.Option(help="Tabellenblatt (Excel)")] = None,
    encoding: Annotated[str | None, typer.Option(help="Kodierung, z. B. cp1252")] = None,
    delimiter: Annotated[str | None, typer.Option(help="Trennzeichen, z. B. ;")] = None,
    header_row: Annotated[int | None, typer.Option(help="Zeilennummer der Kopfzeile (ab 1)")] =
        None,
    crs: Annotated[str | None, typer.Option(help="Koordinatensystem, z. B. EPSG:25832")] = None,
    fill_down: Annotated[bool | None, typer.Option(
        "--fill-down/--no-fill-down",
        help="Verbundene Zellen (leere Folgezeilen) aus der Zeile darüber füllen; sonst "
             "automatisch")] = None,
    as_json: JsonOption = False,
) -> None:
    """Eine Datei als neue Version einer Ressource einlesen (wartet, bis sie veröffentlicht
    oder abgelehnt ist)."""
    from rich.progress import Progress

    from allmende.harmonize.service import harmonize_and_consolidate
    from allmende.ingest.service import IngestRequest, IngestResult, ingest
    from allmende.ingest.sniff import ReadOptions

    if not file.is_file() or not os.access(file, os.R_OK):
        stderr.print(f"[red]Fehler:[/red] {file} ist keine lesbare Datei.")
        raise typer.Exit(2)
    if header_row is not None and header_row < 1:
        stderr.print("[red]Fehler:[/red] --header-row zählt ab 1.")
        raise typer.Exit(2)
    request = IngestRequest(
        dataset=dataset, source=file, original_name=file.name, resource_name=resource,
        options=ReadOptions(encoding=encoding, delimiter=delimiter, header_row=header_row,
                            sheet=sheet, crs=crs, fill_down=fill_down),
        organization=org, title=title, access_level=access)
    instance = platform()
    result: IngestResult
    try:
        with Progress(console=stderr, transient=True) as bar:
            task = bar.add_task(f"{file.name} wird eingelesen", total=1.0)
            result = ingest(instance, OPERATOR, request,
                            lambda fraction, message: bar.update(task, completed=fraction,
                                                                 description=message))
    except AllmendeError as error:
        instance.close()
        fail(error, as_json)
    except Exception as error:
        instance.close()
        if state.debug:
            raise
        fail(unforeseen(error), as_json)
    try:
        # a mapped resource is harmonized right away, not when a worker comes by
        quality = harmonize_and_consolidate(instance, result.resource)
    except AllmendeError as error:  # the version stands; only its check is missing
        quality = None
        result.warnings.append({"code": "harmonize_failed", **stored(msg(
            "Die neue Version ist veröffentlicht, die Zuordnung ließ sich aber nicht "
            "anwenden: {error}", error=str(error) if error.field_errors else error.message))})
    finally:
        instance.close()
    summary = {k: v for k, v in result.as_dict().items() if k != "read_report"}
    if quality is not None:
        summary["quality"] = {"schema": quality.schema_name, "score": quality.score,
                              "valid": quality.valid, "errors": quality.report["errors"]}
    emit(summary, as_json, f"{file.name}: Version {result.version} von Ressource "
                           f"{result.resource} mit {result.rows} Zeilen veröffentlicht.")
    for warning in result.warnings if not as_json else []:
        stderr.print(f"[yellow]Hinweis:[/yellow] {warning['message']}")
    if quality is not None and not as_json:
        stderr.print(f"Zuordnung „{quality.schema_name}“ angewandt: Qualitätswert "
                     f"{quality.score:g} von 100.")


@app.command("validate")
def validate_command(
    file: Annotated[Path, typer.Argument(help="CSV-Datei (Kopfzeile in Zeile 1)")],
    schema: Annotated[str, typer.Option("--schema", help="Name eines Schemas oder SCHEMA.json")],
    mapping: Annotated[Path | None, typer.Option("--mapping", help="Zuordnung (JSON)")] = None,
    as_json: JsonOption = False,
) -> None:
    """Eine Datei offline gegen ein Schema prüfen (Frictionless-Regeln), mit Qualitätsbericht."""
    from allmende.harmonize import registry, validate

    if not file.is_file() or not os.access(file, os.R_OK):
        stderr.print(f"[red]Fehler:[/red] {file} ist keine lesbare Datei.")
        raise typer.Exit(2)
    try:
        descriptor = registry.check_schema(registry.load_schema(schema), schema)
        report = (validate.validate_mapped_file(file, mapping, descriptor) if mapping
                  else validate.validate_file(file, descriptor))
    except (OSError, ValueError) as error:
        stderr.print(f"[red]Fehler:[/red] {file} oder {schema} lässt sich nicht lesen: {error}")
        raise typer.Exit(2) from None
    except NotFound as error:
        if as_json:
            print(json.dumps({"error": {"code": error.code, "message": str(error)}},
                             ensure_ascii=False))
        stderr.print(f"[red]Fehler:[/red] {error}")
        raise typer.Exit(2) from None
    except AllmendeError as error:
        fail(error, as_json)
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        _print_report(file, schema, report)
    raise typer.Exit(0 if report.valid else 1)


def _print_report(file: Path, schema: str, report: Any) -> None:
    from rich.table import Table

    verdict = "[green]gültig[/green]" if report.valid else "[red]ungültig[/red]"
    stderr.print(f"{file.name} gegen „{schema}“: {verdict}, {report.rows} Zeilen, "
                 f"Qualität {report.score:.1f} von 100.")
    if report.errors:
        counts = Table("Fehlerart", "Anzahl", title="Fehler")
        for kind, count in sorted(report.errors.items()):
            counts.add_row(kind, str(count))
        stderr.print(counts)
        for sample in report.samples[:20]:
            stderr.print(f"  {sample.message}")


@schema_app.command("list")
def schema_list(as_json: JsonOption = False) -> None:
    """Die mitgelieferten Schemas auflisten."""
    from rich.table import Table

    from allmende.harmonize import registry

    schemas = [registry.load_schema(name) for name in registry.shipped_names()]
    if as_json:
        print(json.dumps({"schemas": [{k: s.get(k) for k in ("name", "title", "version")}
                                      for s in schemas]}, ensure_ascii=False))
        return
    table = Table("Name", "Titel", "Version", "Felder")
    for s in schemas:
        table.add_row(s["name"], s.get("title", ""), s.get("version", ""), str(len(s["fields"])))
    Console().print(table)


@schema_app.command("show")
def schema_show(name: str, as_json: JsonOption = False) -> None:
    """Ein Schema mit seinen Feldern und Regeln zeigen."""
    from rich.table import Table

    from allmende.harmonize import registry

    try:
        schema = registry.load_schema(name)
    except AllmendeError as error:
        fail(error, as_json)
    if as_json:
        print(json.dumps(schema, ensure_ascii=False))
        return
    console = Console()
    console.print(f"[bold]{schema.get('title', name)}[/bold] ({schema.get('name', name)} "
                  f"{schema.get('version', '')})\n{schema.get('description', '')}")
    table = Table("Feld", "Titel", "Typ", "Regeln", "Beispiel")
    key = registry.primary_key(schema)
    for spec in schema["fields"]:
        rules = [f"{k}={v}" for k, v in spec.get("constraints", {}).items()]
        rules += ["Primärschlüssel"] if spec["name"] in key else []
        table.add_row(spec["name"], spec.get("title", ""), spec.get("type", "string"),
                      ", ".join(rules), str(spec.get("example", "")))
    console.print(table)
    for rule in schema.get("x-allmende", {}).get("rules", []):
        console.print(f"Regel: {rule}")


@app.command("worker")
def worker(
    poll: Annotated[float, typer.Option(help="Sekunden zwischen Abfragen der Warteschlange")] =
        1.0,
) -> None:
    """Hintergrundaufträge abarbeiten (Produktion, PostgreSQL), bis Strg+C."""
    import threading

    from allmende.jobs.worker import run_until

    instance = platform()
    stop = threading.Event()
    stderr.print("allmende worker läuft; Strg+C beendet ihn nach dem laufenden Auftrag.")
    try:
        run_until(instance, stop, poll)
    except KeyboardInterrupt:
        stop.set()
    finally:
        instance.close()


@app.command("demo")
def demo() -> None:
    """Die Demo-Region anlegen (idempotent) und die Demo-Zugänge ausgeben."""
    from allmende.demo.seed import seed

    instance = platform()
    report = seed(instance)
    stderr.print(f"Demo-Region: {report.organizations} Organisationen, {report.users} Konten, "
                 f"{report.datasets} Datensätze, {report.versions} Tabellen, "
                 f"{report.mappings} Zuordnungen, {report.regional} regionale Datensätze, "
                 f"{report.requests} Datenanträge mit {report.accesses} protokollierten "
                 "Zugriffen neu angelegt bzw. erneuert.")
    stderr.print(f"Die Demo-Region hat {report.total_datasets} Datensätze; ohne Anmeldung "
                 f"sichtbar sind {report.public_datasets} (so zählt die Startseite).")
    stderr.print("Demo-Zugänge (E-Mail / Passwort / Rollen):")
    for entry in report.credentials:
        stderr.print(f"  {entry['email']:<48} {entry['password']:<24} {', '.join(entry['roles'])}")


@app.command("serve")
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    with_demo: Annotated[bool, typer.Option("--demo", help="Vorher die Demo-Region anlegen")] =
        False,
) -> None:
    """Den Webserver starten (migriert die Datenbank beim Start)."""
    import uvicorn

    from allmende.web.app import create_app

    if with_demo:
        demo()
    instance = platform()
    stderr.print(f"allmende läuft auf http://{host}:{port}/ (Datenverzeichnis "
                 f"{instance.settings.data_dir.resolve()})")
    uvicorn.run(create_app(instance), host=host, port=port, log_level="info")


@mapping_app.command("suggest")
def mapping_suggest(
    file: Annotated[Path, typer.Argument(help="Die Datei, so wie sie ist")],
    schema: Annotated[str, typer.Option("--schema", help="Name eines Schemas oder SCHEMA.json")],
    as_json: JsonOption = False,
) -> None:
    """Eine Zuordnung der Spalten einer Datei zu einem Schema vorschlagen (offline; mit --json
    als Zuordnungsdatei für „allmende validate --mapping“)."""
    from rich.markup import escape
    from rich.table import Table

    from allmende.harmonize.mapping import describe_groups, describe_rule
    from allmende.harmonize.registry import load_schema
    from allmende.harmonize.suggest import suggest_for_file

    if not file.is_file() or not os.access(file, os.R_OK):
        stderr.print(f"[red]Fehler:[/red] {file} ist keine lesbare Datei.")
        raise typer.Exit(2)
    try:
        target = load_schema(schema)
    except (NotFound, OSError) as error:
        stderr.print(f"[red]Fehler:[/red] {error}")
        raise typer.Exit(2) from None
    try:
        mapping = suggest_for_file(file, target)
    except AllmendeError as error:
        fail(error, as_json)
    if as_json:
        print(mapping.to_json())
        return
    table = Table(title=f"Zuordnung von {file.name} zu „{mapping.schema_name}“")
    for heading in ("Feld", "Quelle", "Umwandlung", "Sicherheit", "Begründung"):
        table.add_column(heading, overflow="fold")
    for name, rule in mapping.fields.items():  # column names such as "P1 [kW]" are no markup
        table.add_row(name, escape(", ".join(rule.source) or "–"), escape(describe_rule(rule)),
                      f"{rule.confidence or 0:.2f}", escape(rule.reason or ""))
    if mapping.groups is not None:
        table.caption = escape(describe_groups(mapping.groups))
    Console().print(table)


def _source_summary(source: Any) -> dict[str, Any]:
    return {"name": source.name, "type": source.type, "url": source.url,
            "organization": source.organization, "schedule": source.schedule,
            "ingest_resources": source.ingest_resources, "datasets": source.datasets,
            "last_run": source.last_run.report() if source.last_run else None}


@harvest_source_app.command("create")
def harvest_source_create(
    name: str,
    type: Annotated[str, typer.Option("--type", help="ckan|dcat|allmende")],
    url: Annotated[str, typer.Option("--url", help="Adresse der Quelle (API oder Katalog)")],
    org: Annotated[str, typer.Option("--org", help="Organisation, in die übernommen wird")],
    schedule: Annotated[str, typer.Option(help="hourly|daily|weekly|off")] = "off",
    ingest_resources: Annotated[bool, typer.Option(
        "--ingest-resources", help="Ressourcen herunterladen und als Tabellen einlesen")] =
        False,
    as_json: JsonOption = False,
) -> None:
    """Harvest-Quelle anlegen."""
    from allmende.interop.harvest import service

    with _unit_of_work(as_json) as session:
        source = service.create_source(session, OPERATOR, {
            "name": name, "type": type, "url": url, "organization": org,
            "schedule": schedule, "ingest_resources": ingest_resources})
        emit(_source_summary(source), as_json, f"Harvest-Quelle „{source.name}“ angelegt.")


@harvest_source_app.command("list")
def harvest_source_list(as_json: JsonOption = False) -> None:
    """Harvest-Quellen auflisten."""
    from allmende.interop.harvest import service

    with _unit_of_work(as_json) as session:
        sources = [_source_summary(s) for s in service.list_sources(session, OPERATOR)]
    if as_json:
        emit({"sources": sources}, True, "")
        return
    for source in sources:
        print(f"{source['name']}\t{source['type']}\t{source['organization']}\t"
              f"{source['schedule']}\t{source['url']}")


@harvest_source_app.command("delete")
def harvest_source_delete(name: str, as_json: JsonOption = False) -> None:
    """Harvest-Quelle löschen; ihre Datensätze gehen in den Papierkorb der Organisation."""
    from allmende.interop.harvest import service

    with _unit_of_work(as_json) as session:
        deleted = service.delete_source(session, OPERATOR, name)
        emit({"source": name, "deleted": deleted}, as_json,
             f"Harvest-Quelle „{name}“ gelöscht, {deleted} Datensätze in den Papierkorb.")


@harvest_app.command("run")
def harvest_run(name: str, as_json: JsonOption = False) -> None:
    """Eine Harvest-Quelle jetzt übernehmen (wartet auf das Ende); Status 1, wenn der Lauf
    als Ganzes fehlschlug."""
    from allmende.interop.harvest import service

    instance = platform()
    try:
        report = service.run(instance, OPERATOR, name)
    except AllmendeError as error:
        fail(error, as_json)
    finally:
        instance.close()
    result = report.report()
    if report.reason:
        result["error"] = {"code": "harvest_failed", "message": str(report.reason)}
    emit(result, as_json, f"„{name}“: {report.created} neu, {report.updated} geändert, "
                          f"{report.deleted} gelöscht, {len(report.failed)} fehlgeschlagen.")
    for failure in report.failed if not as_json else ():
        stderr.print(f"[yellow]Fehlgeschlagen:[/yellow] {failure.id}: {failure.message}")
    if report.reason:
        if not as_json:
            stderr.print(f"[red]Fehler:[/red] {report.reason}")
        raise typer.Exit(1)


@log_app.command("verify")
def log_verify(
    url: Annotated[str, typer.Option("--url", help="Adresse des Knotens, z. B. "
                                                   "https://daten.example.de")],
    state_file: Annotated[Path | None, typer.Option(
        "--state", help="Zustandsdatei: was zuletzt geprüft wurde (wird fortgeschrieben)")] =
    None,
    as_json: JsonOption = False,
) -> None:
    """Das Transparenzprotokoll eines Knotens prüfen (Signatur, Einträge, Fortsetzung).
    Exit 0 konsistent, 1 umgeschrieben oder falsch signiert, 2 nicht erreichbar oder
    Zustandsdatei unbrauchbar."""
    from allmende.transparency.verify import CONSISTENT, verify

    report = verify(url, state_file)
    if as_json:
        print(json.dumps(report.as_json(), ensure_ascii=False))
    else:
        colour = "green" if report.status == CONSISTENT else "red"
        stderr.print(f"[{colour}]{report.message}[/{colour}]")
        for problem in report.problems:
            where = (f"Eintrag {problem['entry']}" if problem.get("entry") is not None
                     else f"Checkpoint {problem.get('checkpoint') or ''}".strip())
            stderr.print(f"  {where}: {problem['message']}")
    raise typer.Exit(report.status)


@log_app.command("checkpoint")
def log_checkpoint(as_json: JsonOption = False) -> None:
    """Jetzt einen signierten Checkpoint des Protokolls veröffentlichen."""
    from allmende.transparency import checkpoints

    work = _unit_of_work(as_json)
    with work as session:
        made = checkpoints.publish(session, work.platform.settings)
    emit({"origin": made.origin, "tree_size": made.size, "checkpoint": made.note}, as_json,
         made.note)


@log_app.command("erase-pseudonyms")
def log_erase_pseudonyms(
    org: Annotated[str, typer.Option("--org", help="Organisation (Kennung)")],
    as_json: JsonOption = False,
) -> None:
    """Den Pseudonym-Schlüssel einer Organisation löschen: Ihre Pseudonyme im Protokoll lassen
    sich danach niemandem mehr zuordnen."""
    from allmende.catalog.organizations import get_organization
    from allmende.transparency import log

    with _unit_of_work(as_json) as session:
        erased = log.erase_pseudonym_key(session, get_organization(session, org).id)
    emit({"organization": org, "erased": erased}, as_json,
         f"Pseudonym-Schlüssel von „{org}“ gelöscht." if erased
         else f"„{org}“ hatte keinen Pseudonym-Schlüssel.")


class _unit_of_work:
    """A database session for one CLI command; service errors end the command with status 1."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.platform = platform()
        self.context = self.platform.db.session()

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self.context.__enter__()

    def __exit__(self, kind, error, traceback) -> bool:  # type: ignore[no-untyped-def]
        try:
            self.context.__exit__(kind, error, traceback)
        finally:
            self.platform.close()
        if isinstance(error, AllmendeError):
            fail(error, self.as_json)
        return False


def main() -> None:
    # A command's process holds some 100,000 objects of its libraries; at exit, the cyclic
    # garbage collector's last passes over all of them took a quarter of a second of every
    # command. Setting them aside first (the process is ending) skips that.
    atexit.register(gc.freeze)
    try:
        app()
    except AllmendeError as error:  # raised outside a unit of work
        if state.debug:
            raise
        stderr.print(f"[red]Fehler:[/red] {error}")
        sys.exit(1)
    except Exception as error:  # the last net: one line, never a traceback without --debug
        if state.debug:
            raise
        failure = unforeseen(error)
        if "--json" in sys.argv[1:]:
            print(json.dumps({"error": {"code": failure.code, "message": str(failure)}},
                             ensure_ascii=False))
        stderr.print(f"[red]Fehler:[/red] {failure}")
        sys.exit(1)
