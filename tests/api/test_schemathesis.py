"""The API against its own OpenAPI document: schemathesis (`st run`, every check) drives the real
server (`serve_api`: uvicorn on 127.0.0.1, a free port) on the time-skipping Temporal server and
PostgreSQL, with a real ops token, and must find no 5xx and no contract failure: every status
documented, every body matching its schema, every content type the documented one.

Bounded for `make test` (`MAX_EXAMPLES` per operation, a fixed seed, two workers; a deeper run:
`make contract`: the coverage phase too, and 100 examples per operation). Two checks'
expectations are set rather than the checks dropped (`CONFIG`): for `positive_data_acceptance`,
a request the schema allows may still be refused by the pathway's rules (409 not now, 422 a
protocol's cross-field rule or an instrument's number of answers, 410 a closed check-in) — the
document says so for each operation. The checks that need more than one identity or resource
links (`object_level_authorization`, `use_after_free`, `ensure_resource_availability`) find
nothing to test here: the document declares no links; they run and pass vacuously.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from database.pgtypes import Pool
from records.users import add_user
from tests.net import served_api

MAX_EXAMPLES = int(os.environ.get("CAREPATH_SCHEMATHESIS_EXAMPLES", "12"))
# The coverage phase (every schema's boundary values, ~50 s: most of a run) is left to the deep
# run (`make contract`, CAREPATH_SCHEMATHESIS_COVERAGE=1) to keep `make test` under 10 minutes;
# it does not depend on who calls, so only ops runs it. `make test` runs the generated phases.
_COVERAGE = os.environ.get("CAREPATH_SCHEMATHESIS_COVERAGE") == "1"
PHASES = {
    "ops": (
        "examples,coverage,fuzzing,stateful" if _COVERAGE else "examples,fuzzing,stateful",
        MAX_EXAMPLES if _COVERAGE else 4 * MAX_EXAMPLES,
    ),
    "therapist": ("examples,fuzzing,stateful", 4 * MAX_EXAMPLES),
}
SEED = 20261205
ST = Path(sys.executable).with_name("st")

# Statuses a schema-valid request may get for reasons the schema cannot say (see the module doc).
CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "429"]

[[operations]]
include-path = ["/journeys", "/journeys/{client_id}/decisions", "/journeys/{client_id}/notes"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422"]

[[operations]]
include-path = "/surveys/{link}"
checks.positive_data_acceptance.expected-statuses = ["2xx", "404", "410", "422"]
"""


@dataclass
class Served:
    url: str
    tokens: dict[str, str]  # by role: ops, therapist
    client_id: str  # a journey both may read, the therapist's client


@pytest_asyncio.fixture
async def served(
    temporal_env: WorkflowEnvironment, db_pool: Pool, db_url: str
) -> AsyncIterator[Served]:
    tokens = {}
    ids = {}
    # A clinic of its own: journey ids are per clinic, so journeys that schemathesis starts
    # here never meet those of another test on the shared Temporal server (whose workers are gone).
    clinic = f"st-{uuid.uuid4().hex[:8]}"
    for role in ("ops", "therapist", "prescriber"):
        ids[role], tokens[role] = await add_user(db_pool, f"Schema {role}", role, clinic)
    client_id = f"cl-{uuid.uuid4().hex[:10]}"
    # schemathesis probes missing and wrong tokens from one address: not an attack.
    async with served_api(
        temporal_env.client,
        db_pool,
        db_url,
        api_runs_projections=False,
        auth_failure_limit=1_000_000,
    ) as settings:
        async with httpx.AsyncClient(base_url=settings.api_url) as http:
            body = {
                "client_id": client_id,
                "therapist_id": ids["therapist"],
                "prescriber_id": ids["prescriber"],
            }
            ops = {"Authorization": f"Bearer {tokens['ops']}"}
            started = await http.post("/journeys", json=body, headers=ops, timeout=30)
            assert started.status_code == 201, started.text
        yield Served(settings.api_url, tokens, client_id)


async def test_the_server_sends_no_server_header_and_refuses_big_chunked_bodies(
    served: Served,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20_000):  # 20 MB, if it were all read
            yield b" " * 1024

    async with httpx.AsyncClient(base_url=served.url) as http:
        health = await http.get("/healthz")
        assert "server" not in health.headers
        assert health.headers["cache-control"] == "no-store"
        big = await http.post("/s/k1.Zm9v.bar", content=chunks())
    assert big.status_code == 413
    assert "server" not in big.headers and big.headers["x-content-type-options"] == "nosniff"


@pytest.mark.slow
@pytest.mark.parametrize("role", ["ops", "therapist"])
async def test_schemathesis_finds_no_server_error_and_no_contract_failure(
    served: Served, tmp_path: Path, role: str
) -> None:
    config = tmp_path / "schemathesis.toml"
    # Every client id is the seeded journey's, so that reads and decisions reach the pathway.
    config.write_text(f'[parameters]\nclient_id = "{served.client_id}"\n{CONFIG}')
    report = tmp_path / "report.ndjson"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREPATH_")}
    env.update(NO_COLOR="1", COLUMNS="200", SCHEMATHESIS_HOOKS="")
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        str(ST), "--config-file", str(config), "run", f"{served.url}/openapi.json",
        "--checks", "all",
        "-H", f"Authorization: Bearer {served.tokens[role]}",
        "--phases", PHASES[role][0],
        "--max-examples", str(PHASES[role][1]),
        "--seed", str(SEED),
        "--workers", os.environ.get("ST_WORKERS", "1"),
        "--request-timeout", "30",
        "--no-shrink",
        "--suppress-health-check", "all",
        "--report", "ndjson", "--report-ndjson-path", str(report),
        cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), timeout=240)
    text = out.decode(errors="replace")
    (tmp_path / "output.txt").write_text(text)
    took = time.monotonic() - started
    print(text[-6000:])
    requests, statuses = _requests(report)
    print(f"schemathesis: {requests} requests in {took:.0f} s, statuses {sorted(statuses.items())}")
    assert process.returncode == 0, text[-12000:]
    assert requests > 500, text[-3000:]
    assert not any(status >= 500 for status in statuses), statuses


def _requests(report: Path) -> tuple[int, dict[int, int]]:
    """How many requests the run made, by status (from its NDJSON events)."""
    statuses: dict[int, int] = {}
    seen: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            response = node.get("response")
            request = node.get("request")
            if isinstance(response, dict) and isinstance(request, dict):
                key = json.dumps(request, sort_keys=True, default=str) + str(id(node))
                if key not in seen and isinstance(response.get("status_code"), int):
                    seen.add(key)
                    statuses[response["status_code"]] = statuses.get(response["status_code"], 0) + 1
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for line in report.read_text().splitlines():
        walk(json.loads(line))
    return sum(statuses.values()), statuses
