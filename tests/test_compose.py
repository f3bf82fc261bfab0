"""docker-compose.yml cannot run here (no Docker engine): check it against the code instead."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import yaml

from cli.main import build_parser
from config.settings import Settings
from workflows.search_attributes import ALL, cli_type


def cli_commands() -> set[str]:
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


CLI_COMMANDS = cli_commands()

ROOT = Path(__file__).parents[1]


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_images_are_pinned() -> None:
    for name, service in compose()["services"].items():
        if "image" in service:
            tag = service["image"].rsplit(":", 1)[-1]
            assert re.fullmatch(r"\d+(\.\d+)+[\w.-]*", tag), f"{name} image is not pinned"


def test_carepath_env_names_are_settings() -> None:
    fields = {f"CAREPATH_{name.upper()}" for name in Settings.model_fields}
    for name, service in compose()["services"].items():
        for key in service.get("environment", {}):
            if key.startswith("CAREPATH_"):
                assert key in fields, f"{name}: {key} is not a Carepath setting"


def test_carepath_services_reach_the_servers_the_compose_defines() -> None:
    services = compose()["services"]
    for name in ("migrate", "worker", "api"):
        assert services[name]["command"][0] == "carepath"
        assert services[name]["command"][1] in CLI_COMMANDS, name
    env = services["worker"]["environment"]
    host = env["CAREPATH_TEMPORAL_ADDRESS"].split(":")[0]
    assert host in services
    assert "@postgresql:5432/" in env["CAREPATH_DATABASE_URL"]
    assert env["CAREPATH_TASK_QUEUE"] == Settings().task_queue


def test_ports_bind_to_loopback_and_files_exist() -> None:
    for service in compose()["services"].values():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:")
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{source} is missing"
    assert "carepath" in (ROOT / "deploy/postgres-init.sql").read_text()


def test_the_image_installs_every_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    pyproject = (ROOT / "pyproject.toml").read_text()
    packages = re.search(r"packages = \[(.*?)\]", pyproject)
    assert packages is not None
    for package in re.findall(r'"(\w+)"', packages.group(1)):
        assert f"COPY {package} ./{package}" in dockerfile


def test_admin_tools_create_exactly_the_search_attributes_the_workflow_uses() -> None:
    script = (ROOT / "deploy/create-search-attributes.sh").read_text()
    created = set(re.findall(r"^create (\w+) (\w+)$", script, re.MULTILINE))
    assert created == {(key.name, cli_type(key)) for key in ALL}
    mounted = compose()["services"]["temporal-admin-tools"]["volumes"][0]
    assert mounted.startswith("./deploy/create-search-attributes.sh:")


def test_workers_scale_and_the_api_is_published() -> None:
    services = compose()["services"]
    worker = services["worker"]
    assert "container_name" not in worker and "ports" not in worker  # --scale worker=N works
    api = services["api"]
    assert api["environment"]["CAREPATH_API_HOST"] == "0.0.0.0"
    port = api["environment"]["CAREPATH_API_PORT"]
    assert f"127.0.0.1:{port}:{port}" in api["ports"]
    assert Settings().api_port == int(port)


def test_the_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in Settings.model_fields if f"CAREPATH_{name.upper()}" not in readme]
    assert missing == []


def test_production_gets_payload_keys_schedules_and_a_codec_for_the_ui() -> None:
    services = compose()["services"]
    for name in ("migrate", "worker", "api", "schedules", "codec"):
        keys = services[name]["environment"]["CAREPATH_PAYLOAD_KEYS"]
        assert keys.startswith("${CAREPATH_PAYLOAD_KEYS:?"), name  # compose refuses without
        assert services[name]["environment"]["CAREPATH_ENV"] == "production"
    assert services["schedules"]["command"][1:] == ["schedules", "apply"]
    codec = services["codec"]
    assert codec["command"][1] in CLI_COMMANDS
    port = codec["environment"]["CAREPATH_CODEC_PORT"]
    assert f"127.0.0.1:{port}:{port}" in codec["ports"]
    ui = services["temporal-ui"]["environment"]
    assert ui["TEMPORAL_CODEC_ENDPOINT"] == f"http://localhost:{port}"
    assert ui["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"  # outside dev it needs them
    assert services["worker"]["environment"]["CAREPATH_UI_BASE_URL"] == "http://localhost:8080"
