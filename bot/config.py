"""One typed Settings object, read once from the environment and `.env`."""

from __future__ import annotations

import re
import tempfile
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.errors import ConfigError
from bot.models import ChannelRef
from bot.store.url import DatabaseUrl, parse_database_url
from knowledge.vectors import AUTH_HEADERS, ChromaServer

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "knowledge" / "samples"

CsvList = Annotated[list[str], NoDecode]
GUID = re.compile(r"[0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every setting partnerbot reads; `.env.example` documents each one."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    # Where things live
    data_dir: Path = Field(Path(".partnerbot"), alias="PARTNERBOT_DATA_DIR")
    docs_dir: Path | None = Field(None, alias="PARTNERBOT_DOCS_DIR")
    comms_dir: Path | None = Field(None, alias="PARTNERBOT_COMMS_DIR")
    log_level: str | None = Field(None, alias="PARTNERBOT_LOG_LEVEL")  # default: see the CLI
    # text: one readable line per record; json: one JSON object per line (bot/monitoring/logs.py)
    log_format: Literal["text", "json"] = Field("text", alias="PARTNERBOT_LOG_FORMAT")
    # The bot's state (feedback, events, communications, outbox, changes): sqlite:///… or
    # postgresql://…; unset: state.sqlite3 in the data dir. A secret: it may hold a password.
    database_url: SecretStr | None = Field(None, alias="PARTNERBOT_DATABASE_URL")

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip():
            try:
                parse_database_url(value.get_secret_value())
            except ConfigError as e:
                raise ValueError(str(e)) from None
        return value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_log_format(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if value.strip().upper() not in LOG_LEVELS:
            raise ValueError(f"give one of {', '.join(LOG_LEVELS)}")
        return value.strip().upper()

    @field_validator("docs_dir", "comms_dir", "comms_routes", "partners_file", "chroma_ca_bundle")
    @classmethod
    def _check_path(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        # A folder that is not there is an error, never an empty folder: indexing or syncing
        # one would remove every document or cancel every communication.
        if value is None:
            return None
        files = ("comms_routes", "partners_file", "chroma_ca_bundle")
        kind = "file" if info.field_name in files else "folder"
        if not (value.is_file() if kind == "file" else value.is_dir()):
            what = f"is not a {kind}" if value.exists() else "does not exist"
            raise ValueError(f"the {kind} {what}; fix the path, or unset it for the default")
        return value

    # Retrieval and answers
    embedder: Literal["minilm", "openai"] = Field("minilm", alias="PARTNERBOT_EMBEDDER")
    embed_batch_size: int = Field(16, alias="PARTNERBOT_EMBED_BATCH_SIZE", ge=1, le=256)
    top_k: int = Field(8, alias="PARTNERBOT_TOP_K", ge=1, le=20)
    abstain_threshold: float | None = Field(
        None, alias="PARTNERBOT_ABSTAIN_THRESHOLD", ge=0, le=1, allow_inf_nan=False
    )
    max_question_chars: int = Field(2000, alias="PARTNERBOT_MAX_QUESTION_CHARS", ge=50, le=100_000)
    escalation_contact: str = Field(
        "your partner development manager", alias="PARTNERBOT_ESCALATION_CONTACT"
    )
    # Domains answers may link to (bot/answering/links.py); empty: the domains of the
    # indexed documents' own `url:` fields.
    link_domains: CsvList = Field(default_factory=list, alias="PARTNERBOT_LINK_DOMAINS")
    _split_link_domains = field_validator("link_domains", mode="before")(_split_csv)

    @field_validator("link_domains")
    @classmethod
    def _check_link_domains(cls, value: list[str]) -> list[str]:
        domain = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
        for given in value:
            if not domain.fullmatch(given.lower().strip(".")):
                raise ValueError(
                    f"give comma-separated domains such as northwind.com,learn.northwind.com "
                    f"(no https://, path or port); not a domain: {given!r}"
                )
        return [v.lower().strip(".") for v in value]

    # `partnerbot serve`'s health, readiness and metrics endpoints (bot/monitoring/health.py)
    health_server: bool = Field(True, alias="PARTNERBOT_HEALTH_SERVER")
    health_host: str = Field("0.0.0.0", alias="PARTNERBOT_HEALTH_HOST")
    health_port: int = Field(8080, alias="PARTNERBOT_HEALTH_PORT", ge=0, le=65535)  # 0: any

    # The vendor's console (bot/serving/console) on the same web server: its pages under
    # /console, its API under /api. PARTNERBOT_CONSOLE_URL: the address people and the
    # identity provider reach it at (https://partnerbot.example.com; behind a proxy, the
    # proxy's), used for sign-in redirects and to check where a form came from. OpenID Connect
    # sign-in is on when an issuer and client id are set; people are added (with their role)
    # by `partnerbot console user add`. The signing key is made and kept in the state store
    # unless given.
    console: bool = Field(True, alias="PARTNERBOT_CONSOLE")
    console_url: str | None = Field(None, alias="PARTNERBOT_CONSOLE_URL")
    console_session_hours: float = Field(
        8.0, alias="PARTNERBOT_CONSOLE_SESSION_HOURS", gt=0, le=24 * 30, allow_inf_nan=False
    )
    console_secret_key: SecretStr | None = Field(None, alias="PARTNERBOT_CONSOLE_SECRET_KEY")
    oidc_issuer: str | None = Field(None, alias="PARTNERBOT_OIDC_ISSUER")
    oidc_client_id: str | None = Field(None, alias="PARTNERBOT_OIDC_CLIENT_ID")
    oidc_client_secret: SecretStr | None = Field(None, alias="PARTNERBOT_OIDC_CLIENT_SECRET")

    @field_validator("console_url", "oidc_issuer")
    @classmethod
    def _check_site_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("https://", "http://")):
            raise ValueError("give the address with https://, e.g. https://partnerbot.example.com")
        return value

    # Chroma server (scale-out); empty means the embedded PersistentClient in data_dir. TLS
    # (optionally verified against a CA bundle) and a token, sent as a bearer Authorization
    # header or as X-Chroma-Token; the token is a secret and never logged.
    chroma_host: str | None = Field(None, alias="CHROMA_HOST")
    chroma_port: int = Field(8000, alias="CHROMA_PORT", ge=1, le=65535)
    chroma_ssl: bool = Field(False, alias="CHROMA_SSL")
    chroma_ca_bundle: Path | None = Field(None, alias="CHROMA_CA_BUNDLE")
    chroma_auth_token: SecretStr | None = Field(None, alias="CHROMA_AUTH_TOKEN")
    chroma_auth_header: str = Field("Authorization", alias="CHROMA_AUTH_HEADER")

    @field_validator("openai_base_url", "slack_api_url")
    @classmethod
    def _check_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        """A URL the HTTP clients can use (empty: unset)."""
        if value is None or not value.strip():
            return None
        example = {"openai_base_url": "http://localhost:11434/v1"}.get(
            info.field_name or "", "https://slack.com/api/"
        )
        try:
            parts = urlsplit(value.strip())
            usable = parts.scheme in ("http", "https") and bool(parts.hostname)
            _ = parts.port  # a port that is not a number raises
        except ValueError:
            usable = False
        if not usable:
            raise ValueError(f"give an http:// or https:// URL, e.g. {example}")
        return value.strip()

    @field_validator("openai_model", "openai_embedding_model", "escalation_contact")
    @classmethod
    def _check_not_empty(cls, value: str, info: ValidationInfo) -> str:
        """An empty value means nothing: give one, or unset it for the default."""
        if not value.strip():
            default = cls.model_fields[info.field_name or ""].default
            raise ValueError(f"give a value, or unset it for the default ({default})")
        return value.strip()

    @field_validator("chroma_auth_header")
    @classmethod
    def _check_auth_header(cls, value: str) -> str:
        for header in AUTH_HEADERS:
            if value.strip().lower() == header.lower():
                return header
        raise ValueError(f"give {' or '.join(AUTH_HEADERS)}")

    # Index generations: how often a running bot looks for a new one (another process or
    # replica indexed), and how long what a switch replaced is kept for readers still on
    # the previous generation before an index run deletes it.
    index_poll_seconds: float = Field(
        5.0, alias="PARTNERBOT_INDEX_POLL_SECONDS", gt=0, le=3600, allow_inf_nan=False
    )
    index_grace_seconds: float = Field(
        300.0, alias="PARTNERBOT_INDEX_GRACE_SECONDS", ge=0, le=7 * 86400, allow_inf_nan=False
    )

    # Optional LLM (OpenAI or any OpenAI-compatible server)
    openai_api_key: SecretStr | None = Field(None, alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(None, alias="OPENAI_BASE_URL")
    openai_model: str = Field("gpt-4o-mini", alias="OPENAI_MODEL")
    openai_embedding_model: str = Field("text-embedding-3-small", alias="OPENAI_EMBEDDING_MODEL")
    llm_timeout: float = Field(
        20.0, alias="PARTNERBOT_LLM_TIMEOUT", gt=0, le=600, allow_inf_nan=False
    )
    llm_max_retries: int = Field(1, alias="PARTNERBOT_LLM_MAX_RETRIES", ge=0, le=5)

    # Chat
    rate_limit_per_minute: int = Field(
        10, alias="PARTNERBOT_RATE_LIMIT_PER_MINUTE", ge=1, le=1_000_000
    )
    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_mode: Literal["socket", "http"] = Field("socket", alias="SLACK_MODE")
    slack_host: str = Field("0.0.0.0", alias="SLACK_HOST")
    slack_port: int = Field(3000, alias="SLACK_PORT", ge=0, le=65535)  # 0: any free port
    slack_api_url: str | None = Field(None, alias="SLACK_API_URL")
    slack_admin_ids: CsvList = Field(default_factory=list, alias="SLACK_ADMIN_USER_IDS")
    discord_bot_token: SecretStr | None = Field(None, alias="DISCORD_BOT_TOKEN")
    discord_admin_role_ids: CsvList = Field(default_factory=list, alias="DISCORD_ADMIN_ROLE_IDS")
    discord_admin_user_ids: CsvList = Field(default_factory=list, alias="DISCORD_ADMIN_USER_IDS")
    discord_guild_ids: CsvList = Field(default_factory=list, alias="DISCORD_GUILD_IDS")
    discord_message_content: bool = Field(False, alias="DISCORD_MESSAGE_CONTENT_INTENT")
    # Microsoft Teams (adapters/teams): the Azure Bot's Microsoft App ID and client secret,
    # the Entra tenant it is registered in (the vendor's: its people are no partner
    # organisation), admins by Entra object id, and the public https address Teams reaches
    # `partnerbot serve`'s /api/messages at (its domain goes in the app package).
    teams_app_id: str | None = Field(None, alias="TEAMS_APP_ID")
    teams_app_password: SecretStr | None = Field(None, alias="TEAMS_APP_PASSWORD")
    teams_tenant_id: str | None = Field(None, alias="TEAMS_TENANT_ID")
    teams_admin_ids: CsvList = Field(default_factory=list, alias="TEAMS_ADMIN_IDS")
    teams_public_url: str | None = Field(None, alias="TEAMS_PUBLIC_URL")

    # Program changes (bot/changes): partner channels for the digest as platform:channel
    # ("slack:#partners,discord:123"), publish automatically after each re-index (off by
    # default), and how many days a change is mentioned under answers as recent.
    changes_channels: CsvList = Field(default_factory=list, alias="PARTNERBOT_CHANGES_CHANNELS")
    changes_auto_publish: bool = Field(False, alias="PARTNERBOT_CHANGES_AUTO_PUBLISH")
    changes_recent_days: int = Field(90, alias="PARTNERBOT_CHANGES_RECENT_DAYS", ge=1, le=3650)
    _split_changes_channels = field_validator("changes_channels", mode="before")(_split_csv)

    # Communications announced to partners (bot/comms): the routes file (default
    # <comms folder>/routes.yml), default lead times in days before send_at, an optional
    # acknowledgement reminder N days before send_at (0: off), how many days sent ones stay
    # answerable, the dispatcher's poll interval in `serve`, and the admin channels alerts
    # go to as platform:channel ("slack:C0ADMINS,discord:123").
    comms_routes: Path | None = Field(None, alias="PARTNERBOT_COMMS_ROUTES")
    comms_lead_days: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: [14, 3, 1], alias="PARTNERBOT_COMMS_LEAD_DAYS"
    )
    comms_ack_reminder_days: int = Field(
        0, alias="PARTNERBOT_COMMS_ACK_REMINDER_DAYS", ge=0, le=365
    )
    comms_recent_days: int = Field(30, alias="PARTNERBOT_COMMS_RECENT_DAYS", ge=0, le=3650)
    comms_poll_seconds: float = Field(
        30.0, alias="PARTNERBOT_COMMS_POLL_SECONDS", gt=0, le=86400, allow_inf_nan=False
    )
    admin_channels: CsvList = Field(default_factory=list, alias="PARTNERBOT_ADMIN_CHANNELS")

    # Partners and per-partner notices: the partners file (YAML or CSV; default
    # <comms folder>/partners.yml|.yaml|.csv when there is one), how many days after the send
    # date a communication's recipient list is kept before it is deleted, and when partners
    # that have not acknowledged their private notice are reminded (days before; 0: never).
    partners_file: Path | None = Field(None, alias="PARTNERBOT_PARTNERS_FILE")
    recipients_retention_days: int = Field(
        14, alias="PARTNERBOT_RECIPIENTS_RETENTION_DAYS", ge=0, le=3650
    )
    partner_ack_reminder_days: int = Field(
        2, alias="PARTNERBOT_PARTNER_ACK_REMINDER_DAYS", ge=0, le=365
    )
    _split_comms = field_validator("comms_lead_days", "admin_channels", mode="before")(_split_csv)

    @field_validator("comms_lead_days")
    @classmethod
    def _check_comms_lead_days(cls, value: list[int]) -> list[int]:
        if not value or any(d <= 0 or d > 365 for d in value):
            raise ValueError("give whole days between 1 and 365, e.g. 14,3,1")
        return value

    @field_validator("changes_channels", "admin_channels")
    @classmethod
    def _check_channels(cls, value: list[str]) -> list[str]:
        """platform:channel, parsed by the one parser (unknown platforms: see bot/app.py)."""
        for spec in value:
            try:
                ChannelRef.parse(spec)
            except ConfigError as e:
                raise ValueError(str(e)) from None
        return value

    _split = field_validator(
        "slack_admin_ids",
        "teams_admin_ids",
        "discord_admin_role_ids",
        "discord_admin_user_ids",
        "discord_guild_ids",
        mode="before",
    )(_split_csv)

    @field_validator("discord_admin_role_ids", "discord_admin_user_ids", "discord_guild_ids")
    @classmethod
    def _check_discord_ids(cls, value: list[str]) -> list[str]:
        if bad := [v for v in value if not v.isdigit()]:
            raise ValueError(
                "give comma-separated numeric Discord ids (Developer Mode → right-click → "
                f"Copy ID); not an id: {bad[0]!r}"
            )
        return value

    @field_validator("teams_app_id", "teams_tenant_id", "teams_public_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return value.strip() or None if isinstance(value, str) else value

    @field_validator("teams_app_id", "teams_tenant_id")
    @classmethod
    def _check_teams_guid(cls, value: str | None) -> str | None:
        if value is not None and not GUID.fullmatch(value):
            raise ValueError(
                "give the GUID from the Azure portal (Azure Bot → Configuration), "
                "e.g. 00000000-0000-0000-0000-000000000000"
            )
        return value.lower() if value else value

    @field_validator("teams_admin_ids")
    @classmethod
    def _check_teams_admins(cls, value: list[str]) -> list[str]:
        if bad := [v for v in value if not GUID.fullmatch(v)]:
            raise ValueError(
                "give comma-separated Entra object ids (Entra admin center → Users → "
                f"Object ID); not an object id: {bad[0]!r}"
            )
        return [v.lower() for v in value]

    @field_validator("teams_public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https://[A-Za-z0-9.-]+(:\d+)?(/\S*)?", value):
            raise ValueError("give the https:// address Teams reaches partnerbot at")
        return value.rstrip("/") if value else value

    @cached_property
    def documents_dir(self) -> Path:
        """The folder `index` uses when none is given: configured, else the shipped samples."""
        return self.docs_dir or SAMPLES_DIR / "docs"

    @property
    def llm_configured(self) -> bool:
        return bool(self.openai_api_key or self.openai_base_url)

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def chroma_server(self) -> ChromaServer | None:
        """The Chroma server CHROMA_HOST names, or None for the embedded store."""
        if not (self.chroma_host and self.chroma_host.strip()):
            return None
        token = self.chroma_auth_token.get_secret_value().strip() if self.chroma_auth_token else ""
        return ChromaServer(
            host=self.chroma_host.strip(),
            port=self.chroma_port,
            ssl=self.chroma_ssl,
            auth_token=token or None,
            auth_header=self.chroma_auth_header,
            ca_bundle=str(self.chroma_ca_bundle) if self.chroma_ca_bundle else None,
        )

    @property
    def shared_index(self) -> bool:
        """Replicas share one index: the state is in PostgreSQL and Chroma is a server."""
        return self.database.backend == "postgres" and self.chroma_server is not None

    @property
    def index_catalog_url(self) -> str | None:
        """Where the index catalog lives: the PostgreSQL database when the index is shared,
        else None (SQLite in the data directory)."""
        return self.database.url if self.shared_index else None

    @property
    def state_db(self) -> Path:
        return self.data_dir / "state.sqlite3"

    @property
    def database(self) -> DatabaseUrl:
        """Where the state lives: PARTNERBOT_DATABASE_URL, else state.sqlite3 in the data dir."""
        url = self.database_url.get_secret_value().strip() if self.database_url else ""
        return parse_database_url(url) if url else DatabaseUrl.sqlite_file(self.state_db)


def load_settings(**overrides: object) -> Settings:
    """Read settings once; explicit arguments win. A bad value fails fast, naming the variable
    and what to give instead; the data directory is created and must be writable."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as e:
        raise ConfigError(_describe(e)) from None
    problem = _data_dir_problem(settings.data_dir)
    if problem:
        raise ConfigError(f"PARTNERBOT_DATA_DIR={str(settings.data_dir)!r}: {problem}")
    return settings


def _describe(error: ValidationError) -> str:
    secret = {
        f.alias or name
        for name, f in Settings.model_fields.items()
        if "SecretStr" in str(f.annotation)
    }
    problems = []
    for err in error.errors():
        name = ".".join(str(p) for p in err["loc"]) or "settings"
        given = err.get("input")
        shown = f"={given!r}" if isinstance(given, str) and name not in secret else ""
        reason = err["msg"].removeprefix("Value error, ")
        problems.append(f"{name}{shown}: {reason}")
    return "Invalid configuration — fix these environment variables (or .env): " + "; ".join(
        problems
    )


def _data_dir_problem(path: Path) -> str | None:
    """Why the data directory cannot be used (it is created when missing), or None."""
    fix = "point PARTNERBOT_DATA_DIR at a folder this user can write (created if missing)"
    if path.exists() and not path.is_dir():
        return f"it is a file, not a folder; {fix}"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return f"it cannot be created ({e.strerror}); {fix}"
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        return f"it is not writable ({e.strerror}); {fix}"
    return None
