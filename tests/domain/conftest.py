"""Hypothesis profiles: `default` for `make test`, `long` (CAREPATH_HYPOTHESIS=long) to hunt."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "long", max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck)
)
if os.environ.get("CAREPATH_HYPOTHESIS") == "long":
    settings.load_profile("long")
