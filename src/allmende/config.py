"""The only place allmende reads its configuration.

Order of precedence: explicit arguments (the CLI's ``--data-dir``), environment variables
``ALLMENDE_*``, an optional ``allmende.toml`` in the working directory, then defaults.
"""

from __future__ import annotations

import re
import secrets
from functools import cached_property
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ALLMENDE_", toml_file="allmende.toml", extra="ignore"
    )

    data_dir: Path = Field(default=Path("data"), description="Data directory")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default is SQLite in the data directory"
    )
    secret_key: str | None = Field(
        default=None, description="Signs session cookies; default is a key kept in the data dir"
    )
    default_language: str = "de"
    base_url: str = Field(
        default="http://127.0.0.1:8000", description="Where this node is reached from "
                                                     "outside; every absolute link (catalogs, "
                                                     "harvesting, interfaces) starts with it")
    dcat_contributor_id: str = Field(
        default="", description="The DCAT-AP.de contributor ID (dcatde:contributorID) every "
                                "dataset of the catalog carries, e.g. openNRW or "
                                "http://dcat-ap.de/def/contributors/openNRW; empty: none")
    dcat_catalog_title: str = Field(
        default="allmende – offene Daten der Region", min_length=1,
        description="The title of the DCAT-AP.de catalog (/catalog.ttl)")
    dcat_publisher: str = Field(
        default="allmende", min_length=1,
        description="Who publishes the DCAT-AP.de catalog (its dct:publisher)")
    secure_cookies: bool = Field(
        default=False, description="Mark session cookies Secure (set behind HTTPS)"
    )
    map_tile_url: str = Field(
        default="", description="Tile URL template for maps, e.g. "
                                "https://tiles.example/{z}/{x}/{y}.png; empty: maps show the "
                                "data on a blank background")
    map_tile_attribution: str = Field(default="",
                                      description="Attribution the tile server asks for")
    upload_limit_bytes: int = Field(default=1 << 30, description="Largest accepted upload")
    inprocess_worker: bool = Field(
        default=True, description="Run background jobs inside `allmende serve` (embedded "
                                  "default); set false when `allmende worker` processes run")
    database_pool_size: int = Field(
        default=10, ge=0, description="Connections a process keeps open to PostgreSQL (up to "
                                      "twice as many more at peaks); 0 opens one per unit of "
                                      "work and keeps none")
    search_snapshot_min_datasets: int = Field(
        default=5000, ge=0, description="Catalogs of at least this many datasets keep their "
                                        "search index as snapshot files that a starting process "
                                        "maps; smaller ones are indexed from the database at "
                                        "start (faster than writing and reading the files)")
    download_slots: int = Field(
        default=4, ge=1, description="Downloads (format=…) one web process builds at once")
    download_slots_per_client: int = Field(
        default=2, ge=1, description="Downloads one client address may run at once")
    job_heartbeat_seconds: float = Field(
        default=10.0, gt=0, description="How often a running job tells it is alive")
    job_stale_seconds: float = Field(
        default=60.0, gt=0, description="A running job silent for this long is reclaimed by "
                                       "another worker (retried, or failed after 3 attempts)")
    job_isolation: Literal["process", "inline"] = Field(
        default="process", description="Run each job in a child process of its own (a crash "
                                       "or an overrun ends only that job), or inline (tests)")
    job_memory_limit_mb: int = Field(
        default=4096, ge=64, description="A job using more memory than this is stopped")
    job_time_limit_seconds: float = Field(
        default=3600.0, gt=0, description="A job running longer than this is stopped")
    harvest_allowed_networks: str = Field(
        default="", description="Networks harvesting may reach although they are loopback, "
                                "private, link-local or otherwise not public: CIDR blocks "
                                "separated by commas (e.g. 10.1.0.0/16,::1); empty: none")
    harvest_max_pages: int = Field(
        default=10_000, ge=1, description="Documents one harvest run fetches at most")
    harvest_max_redirects: int = Field(
        default=5, ge=0, description="Redirects one harvest request follows at most")
    harvest_max_document_bytes: int = Field(
        default=100 * 1024 * 1024, ge=1, description="Largest document harvesting reads")
    harvest_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Harvesting waits this long for a source to connect "
                                       "or to send the next bytes")
    smtp_host: str = Field(
        default="", description="SMTP server for e-mails (data requests, agreements, "
                                "registration); empty: no e-mail is sent, each is logged "
                                "as not sent")
    smtp_port: int = Field(default=587, ge=1, le=65535, description="Port of the SMTP server")
    smtp_starttls: bool = Field(default=True, description="Switch the SMTP connection to TLS "
                                                         "(STARTTLS) before signing in")
    smtp_user: str = Field(default="", description="SMTP user name; empty: no sign-in")
    smtp_password: str = Field(default="", description="SMTP password")
    mail_sender: str = Field(default="allmende@localhost",
                             description="The From address of allmende's e-mails")
    request_attachment_limit_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1, description="Largest PDF attached to a data request")
    request_retention_days: int = Field(
        default=730, ge=1, description="A closed data request (decided, withdrawn, or its "
                                       "agreement's period over) and its attachments are "
                                       "deleted this many days later")
    agreement_expiry_notice_days: int = Field(
        default=14, ge=0, description="The holder of a usage agreement is e-mailed this many "
                                      "days before it ends (once; not for agreements that "
                                      "last no longer than this); 0: no such e-mail")
    registration_link_hours: int = Field(
        default=48, ge=1, description="How long a registration's confirmation link is valid; "
                                      "unconfirmed accounts are deleted after it")
    pause_at: str | None = Field(
        default=None, description="Tests only: stop every attempt at this phase (reading, "
                                  "typing, writing, publishing, mapping, consolidating), so "
                                  "a test can kill the worker there")

    @field_validator("harvest_allowed_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        try:
            networks_of(value)
        except ValueError:
            raise ValueError("ALLMENDE_HARVEST_ALLOWED_NETWORKS: erwartet Netze in CIDR-"
                             "Schreibweise, durch Kommas getrennt (z. B. 127.0.0.0/8,::1)."
                             ) from None
        return value

    @property
    def harvest_networks(self) -> list[IPv4Network | IPv6Network]:
        return networks_of(self.harvest_allowed_networks)

    @field_validator("dcat_contributor_id")
    @classmethod
    def _contributor_id(cls, value: str) -> str:
        value = value.strip()
        if value and not re.fullmatch(r"https?://\S+|[A-Za-z0-9][A-Za-z0-9_.-]*", value):
            raise ValueError("ALLMENDE_DCAT_CONTRIBUTOR_ID: erwartet die Kennung aus der Liste "
                             "der Datenbereitsteller (z. B. openNRW) oder ihren URI.")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'allmende.db').resolve()}"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    def session_secret(self) -> str:
        """The cookie-signing key: configured, or generated once and kept in the data dir."""
        if self.secret_key:
            return self.secret_key
        key_file = self.keys_dir / "session.key"
        if not key_file.exists():
            self.keys_dir.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        return key_file.read_text().strip()


def networks_of(text: str) -> list[IPv4Network | IPv6Network]:
    """``127.0.0.0/8, ::1`` as networks (a single address is a network of one)."""
    return [ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()]
