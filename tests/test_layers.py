"""The layering contract covers every package, and the wheel ships every production one."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOT_SHIPPED = {"tests", "bench", "chaos"}


def _config() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _top_level_packages() -> set[str]:
    return {p.parent.name for p in ROOT.glob("*/__init__.py")}


def test_every_package_is_in_the_import_contracts() -> None:
    linter = _config()["tool"]["importlinter"]  # type: ignore[index]
    assert set(linter["root_packages"]) == _top_level_packages() - {"tests"}
    layers = next(c for c in linter["contracts"] if c["type"] == "layers")
    in_layers = {name.strip() for layer in layers["layers"] for name in layer.split("|")}
    assert in_layers == set(linter["root_packages"])


def test_the_wheel_ships_every_production_package() -> None:
    wheel = _config()["tool"]["hatch"]["build"]["targets"]["wheel"]  # type: ignore[index]
    assert set(wheel["packages"]) == _top_level_packages() - NOT_SHIPPED


def test_the_architecture_docs_picture_is_the_code_s_import_graph() -> None:
    from devstack import importgraph

    assert importgraph.main(["--check"]) == 0, "run `python -m devstack.importgraph`"


def test_the_picture_shows_every_import_between_packages() -> None:
    from devstack import importgraph

    found = importgraph.edges(["cli", "workers", "records", "database"])
    # cli/keys.py reseals notes, workers/ serve the API: both real imports, both drawn.
    assert found[("cli", "records")] >= 1
    assert ("records", "cli") not in found
    assert found[("records", "database")] >= 1


def _definitions(pattern: str) -> list[str]:
    import re

    found = []
    for path in sorted(ROOT.glob("*/**/*.py")):
        if path.parts[len(ROOT.parts)] in {".venv", ".carepath"} or path.name == "test_layers.py":
            continue
        for line in path.read_text().splitlines():
            if re.match(pattern, line):
                found.append(str(path.relative_to(ROOT)))
    return found


def test_each_shared_helper_and_rule_has_one_home() -> None:
    once = {
        r"def free_port\(": "devstack/ports.py",
        r"(async )?def wait_until_healthy\(": "tests/net.py",
        r"def stop_on_signals\(": "workers/signals.py",
        r"def channel_for\(": "activities/channels.py",
        r"NOTIFY_RETRY = ": "workflows/retries.py",
        r"def journey_workflow_id\(": "domain/ids.py",
        r"async def clinician_of_token\(": "records/tokens.py",
        r"async def follow_log\(": "eventstore/follower.py",
        r"def all_projections\(": "projections/__init__.py",
        r".*pg_snapshot_xmin": "eventstore/log.py",  # the gap-safe read rule
        r".*add_signal_handler\(signum": "workers/signals.py",
    }
    for pattern, home in once.items():
        found = [p for p in _definitions(pattern) if home.startswith("tests/") or "tests/" not in p]
        assert found == [home], pattern


def test_no_sql_reads_the_domain_state_by_json_path_outside_projections() -> None:
    readers = [p for p in _definitions(r".*\bs->'") if not p.startswith(("projections/", "tests/"))]
    assert readers == []
