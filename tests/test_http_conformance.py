"""The conformance harness over HTTPS: ``POST /kmip`` in binary, XML and JSON answers as the KMIP port does.

The message-encoding profile cases (MSGENC-HTTPS/JSON/XML, KMIP 1.4 and 2.1)
and a handful of baseline cases are replayed through
:class:`conformance.transport.HttpsTransport` in each encoding and through
the TLS transport; every case must reach the same verdict at the same
place (a case that fails on the KMIP port, for a reason outside the HTTP
layer, must fail identically over HTTPS).  Every MSGENC case passes, in
each encoding.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.runner import Result, run_all
from conformance.transport import HttpsTransport, ServerProcess, TlsTransport

CASES = Path(__file__).resolve().parents[1].parent / "shared" / "kmip-testcases"
NAMES = [
    "1.4/mandatory/MSGENC-HTTPS-M-1-14.xml",
    "1.4/mandatory/MSGENC-JSON-M-1-14.xml",
    "1.4/mandatory/MSGENC-XML-M-1-14.xml",
    "2.1/mandatory/MSGENC-HTTPS-M-1-21.xml",
    "2.1/mandatory/MSGENC-JSON-M-1-21.xml",
    "2.1/mandatory/MSGENC-XML-M-1-21.xml",
    "2.1/mandatory/BL-M-1-21.xml",
    "2.1/mandatory/BL-M-2-21.xml",
    "1.4/mandatory/BL-M-1-14.xml",
]


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    if not CASES.exists():
        pytest.skip("the OASIS test cases are not present")
    with ServerProcess(("--non-fips",)) as running:
        yield running


def _verdicts(results: list[Result]) -> dict[str, tuple[bool, str]]:
    return {r.id: (r.passed, r.where) for r in results}


@pytest.mark.parametrize("encoding", ["binary", "xml", "json"])
def test_https_reaches_the_same_verdicts_as_tls(server: ServerProcess, encoding: str) -> None:
    paths = [CASES / name for name in NAMES if (CASES / name).exists()]
    over_tls = run_all(paths, TlsTransport(server.tls_settings()))
    over_https = run_all(paths, HttpsTransport(server.https_settings(), encoding))
    assert not [r for r in over_https if r.error], [r.error for r in over_https if r.error]
    assert _verdicts(over_https) == _verdicts(over_tls)
    msgenc = [r for r in over_https if r.profile == "MSGENC"]
    assert len(msgenc) == 6 and all(r.passed for r in msgenc), [(r.id, r.where) for r in msgenc if not r.passed]


def test_harness_cli_replays_over_https(tmp_path: Path) -> None:
    """``python -m conformance run --https ENCODING`` starts a server and replays over POST /kmip."""
    import subprocess
    import sys

    case = CASES / "2.1/mandatory/SKLC-M-1-21.xml"
    if not case.exists():
        pytest.skip("the OASIS test cases are not present")
    for encoding in ("xml", "json"):
        done = subprocess.run(
            [sys.executable, "-m", "conformance", "run", "--https", encoding, "--no-expected", str(case)],
            capture_output=True,
            text=True,
            timeout=240,
            cwd=Path(__file__).resolve().parents[1],
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.strip().splitlines()[-1] == "1 passed, 0 failed"
