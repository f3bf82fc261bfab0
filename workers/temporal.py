"""Connecting to Temporal with Carepath's data converter."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from config.settings import Settings

DATA_CONVERTER = pydantic_data_converter


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
        data_converter=DATA_CONVERTER,
        runtime=runtime_with_metrics(settings.metrics_address),
    )
