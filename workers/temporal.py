"""Connecting to Temporal with Carepath's data converter."""

from __future__ import annotations

import dataclasses

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

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


async def connect(settings: Settings, address: str | None = None) -> Client:
    target = address or settings.temporal_address
    if target is None:
        raise RuntimeError("no Temporal address: set CAREPATH_TEMPORAL_ADDRESS or run carepath dev")
    return await Client.connect(
        target,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        runtime=runtime_with_metrics(settings.metrics_address),
    )
