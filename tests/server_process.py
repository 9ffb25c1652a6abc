"""Start a real ``kmsd serve`` process for end-to-end tests, and stop it by PID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

STARTUP_TIMEOUT_S = 30.0


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
    data_dir: Path
    port: int
    log_path: Path

    @property
    def certs(self) -> Path:
        return self.data_dir / "certs"

    @property
    def ca(self) -> str:
        return str(self.certs / "ca.pem")

    @property
    def admin_cert(self) -> str:
        return str(self.certs / "admin.pem")

    @property
    def admin_key(self) -> str:
        return str(self.certs / "admin.key")

    def client_cert(self, name: str) -> tuple[str, str]:
        """Issue (once) a client certificate for ``name`` from the server's CA."""
        from kmsd.server.certs import issue_client_cert

        out = self.data_dir / "clients"
        cert, key = out / f"{name}.pem", out / f"{name}.key"
        if not cert.exists():
            issue_client_cert(self.data_dir, name, out)
        return str(cert), str(key)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_server(data_dir: Path, *extra: str, env: dict[str, str] | None = None) -> RunningServer:
    data_dir.mkdir(parents=True, exist_ok=True)
    port_file = data_dir / "kmip.port"
    port_file.unlink(missing_ok=True)
    log_path = data_dir / "server.log"
    command = [
        sys.executable, "-m", "kmsd.cli", "serve",
        "--data-dir", str(data_dir), "--bind", "127.0.0.1", "--kmip-port", "0",
        "--http-bind", "127.0.0.1", "--http-port", "0", *extra,
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, cwd=data_dir
        )
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"kmsd serve exited with {process.returncode}:\n{log_path.read_text()}")
        if port_file.exists() and port_file.read_text().strip():
            return RunningServer(process, data_dir, int(port_file.read_text().strip()), log_path)
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"kmsd serve did not start in {STARTUP_TIMEOUT_S}s:\n{log_path.read_text()}")
