"""schemathesis against ``/openapi.json``: no server error, no response that contradicts the schema.

The server runs with ``--insecure`` (plain HTTP on loopback, every caller is
the default user) so that generated requests reach the handlers instead of
stopping at authentication; the authenticated paths are covered by
``tests/test_http_api.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .http_client import http_port
from .server_process import RunningServer, start_server

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)


@pytest.fixture(scope="module")
def insecure_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("schema") / "data", "--insecure", "--non-fips")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def api_schema(insecure_server: RunningServer) -> Any:
    return schemathesis.openapi.from_url(f"http://127.0.0.1:{http_port(insecure_server)}/openapi.json")


CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance, status_code_conformance]


def test_api_conforms_to_its_schema(api_schema: Any) -> None:
    # Each operation in turn, driven by hypothesis directly (schemathesis' pytest
    # plugin does not cooperate with pytest-trio's collection here).
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 13
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: Any) -> None:
            case.call_and_validate(checks=CHECKS)

        run()
