"""``--insecure`` on the HTTP side: plain HTTP, everyone is the default user, loopback unless ``--i-know``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kmsd.http.service import build_http_service, http_bind, is_loopback
from kmsd.server.config import ServerConfig

from . import kmip_builders as kb
from .http_client import Client, http_port
from .server_process import start_server


def test_insecure_server_speaks_plain_http_as_the_default_user(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", "--insecure")
    try:
        plain = Client("127.0.0.1", http_port(server), None)
        me = plain.get("/me").json()
        assert me["user"] == "admin" and me["authenticated_by"] == "default"
        assert "strict-transport-security" not in plain.get("/health").headers  # no HSTS over plain HTTP
        from kmsd.kmip.enums import Operation, ResultStatus

        message = kb.request((2, 1), (Operation.QUERY, [kb.enum("Query Function", 1)]))
        reply = plain.request("POST", "/kmip", message, {"content-type": "application/octet-stream"})
        assert kb.Response(reply.body).status() == ResultStatus.SUCCESS
        assert "INSECURE MODE" in server.log()
    finally:
        server.stop()


def test_insecure_refuses_a_non_loopback_bind_without_i_know(tmp_path: Path) -> None:
    command = [
        *(sys.executable, "-m", "kmsd.cli", "serve", "--data-dir", str(tmp_path / "d")),
        *("--bind", "127.0.0.1", "--kmip-port", "0", "--insecure", "--http-bind", "0.0.0.0", "--http-port", "0"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode != 0
    assert "--i-know" in result.stderr and "refusing to listen on 0.0.0.0" in result.stderr


def test_bind_defaults_and_the_i_know_override(tmp_path: Path) -> None:
    assert http_bind(ServerConfig(data_dir=tmp_path)) == "0.0.0.0"
    assert http_bind(ServerConfig(data_dir=tmp_path, insecure=True)) == "127.0.0.1"
    assert http_bind(ServerConfig(data_dir=tmp_path, http_bind="::1")) == "::1"
    assert is_loopback("127.0.0.2") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.1")
    from kmsd.auth.authenticator import Authenticator, AuthSettings

    config = ServerConfig(data_dir=tmp_path, insecure=True, http_bind="0.0.0.0", i_know=True)
    auth = Authenticator(AuthSettings(insecure=True))
    service = build_http_service(config, tmp_path, tmp_path, tmp_path, object(), object(), auth)  # type: ignore[arg-type]
    assert service is not None and service.host == "0.0.0.0" and not service.listener.tls
    with pytest.raises(Exception, match="--i-know"):
        build_http_service(
            ServerConfig(data_dir=tmp_path, insecure=True, http_bind="0.0.0.0"),
            tmp_path, tmp_path, tmp_path, object(), object(), auth,  # type: ignore[arg-type]
        )  # fmt: skip
