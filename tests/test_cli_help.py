"""`kmsd serve -h` lists every option with its environment variable (the README points users to it)."""

from __future__ import annotations

import os
import subprocess
import sys

from kmsd.server.config import SETTINGS


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    command = [sys.executable, "-m", "kmsd.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)


def test_short_and_long_help_are_the_same_and_list_every_setting() -> None:
    short, long = _cli("serve", "-h"), _cli("serve", "--help")
    assert short.returncode == 0 and short.stdout == long.stdout
    for setting in SETTINGS:
        option = "--config" if setting.name == "config_file" else f"--{setting.name.replace('_', '-')}"
        assert option in short.stdout, setting.name
    assert "KMS_KEY_ENCRYPTION_KEY" in short.stdout


def test_every_group_takes_h() -> None:
    # A fresh process each: click caches a command's help option on first use,
    # so in-process invocations by other tests would decide what -h means here.
    for args in (["-h"], ["audit", "-h"], ["ttlv", "-h"], ["certs", "-h"], ["auth", "-h"]):
        result = _cli(*args)
        assert result.returncode == 0 and "Usage:" in result.stdout, (args, result.stderr)
