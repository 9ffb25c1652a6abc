"""Shared fixtures: a real kmsd server process per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server_process import RunningServer, start_server

# Throwaway PostgreSQL/MariaDB databases for the store tests (tests/db_fixtures.py).
pytest_plugins = ["tests.db_fixtures"]


@pytest.fixture(scope="module")
def kmsd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = start_server(tmp_path_factory.mktemp("kmsd") / "data")
    yield server
    server.stop()
