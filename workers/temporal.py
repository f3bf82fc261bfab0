"""Connecting to Temporal with Carepath's data converter."""

from __future__ import annotations

import dataclasses
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import TLSConfig

from config.settings import Settings
from privacy import EncryptionCodec, load_key_ring

DATA_CONVERTER = pydantic_data_converter


def data_converter(settings: Settings) -> DataConverter:
    """The pydantic converter, encrypting every payload when payload keys are configured."""
    ring = load_key_ring(settings.payload_keys, settings.payload_key_file)
    if ring is None:
        if settings.env == "production":
            raise RuntimeError(
                "payload encryption is required in production: set CAREPATH_PAYLOAD_KEYS "
                "or CAREPATH_PAYLOAD_KEY_FILE"
            )
        return DATA_CONVERTER
    return dataclasses.replace(DATA_CONVERTER, payload_codec=EncryptionCodec(ring))


def runtime_with_metrics(bind_address: str | None) -> Runtime | None:
    """An SDK runtime that serves Prometheus metrics on `bind_address` (host:port)."""
    if not bind_address:
        return None
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=bind_address)))


def tls_options(settings: Settings) -> dict[str, Any]:
    """How to reach the server: plain (dev), TLS with an API key, or mTLS (Temporal Cloud)."""
    if settings.temporal_tls_cert or settings.temporal_tls_key:
        if not (settings.temporal_tls_cert and settings.temporal_tls_key):
            raise RuntimeError("mTLS needs both CAREPATH_TEMPORAL_TLS_CERT and _TLS_KEY")
        tls = TLSConfig(
            client_cert=settings.temporal_tls_cert.read_bytes(),
            client_private_key=settings.temporal_tls_key.read_bytes(),
        )
        return {"tls": tls, "api_key": settings.temporal_api_key}
    if settings.temporal_api_key:
        return {"tls": True, "api_key": settings.temporal_api_key}
    return {"tls": settings.temporal_tls}


async def connect(settings: Settings, address: str | None = None) -> Client:
    target = address or settings.temporal_address
    if target is None:
        raise RuntimeError("no Temporal address: set CAREPATH_TEMPORAL_ADDRESS or run carepath dev")
    return await Client.connect(
        target,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        runtime=runtime_with_metrics(settings.metrics_address),
        **tls_options(settings),
    )
