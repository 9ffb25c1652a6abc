"""Server configuration: sources, precedence, Cosmian names, --help."""

from __future__ import annotations

import os
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from kmsd.cli import main
from kmsd.server.config import (
    SETTINGS,
    ConfigError,
    ServerConfig,
    config_from_args,
    mask_url,
    parse_dotenv,
)


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No KMS_* variables from the outside, and a working directory without .env."""
    for name in list(os.environ):
        if name.startswith("KMS_"):
            monkeypatch.delenv(name)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults() -> None:
    config = config_from_args([])
    assert config == ServerConfig()
    assert config.data_dir == Path("kms-data")
    assert (config.bind, config.kmip_port, config.http_port) == ("0.0.0.0", 5696, 9998)
    assert config.database_type == "sqlite"
    assert config.sqlite_file == Path("kms-data/kms.db")
    assert config.default_username == "admin"
    assert config.generates_tls
    assert config.certs_dir == Path("kms-data/certs")
    assert config.port_file == Path("kms-data/kmip.port")


def test_precedence_cli_env_dotenv_toml_default(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = write(clean_env / "kms.toml", 'kmip_port = 1001\ndefault_username = "from-toml"\nidle_timeout = 1\n')
    dotenv = write(clean_env / ".env", "KMS_KMIP_PORT=1002\nKMS_DEFAULT_USERNAME=from-dotenv\n")
    monkeypatch.setenv("KMS_KMIP_PORT", "1003")
    config = config_from_args(["--config", str(toml), "--kmip-port", "1004"])
    assert config.kmip_port == 1004  # command line
    assert config.default_username == "from-dotenv"  # .env over TOML
    assert config.idle_timeout == 1.0  # TOML over default
    assert config.handshake_timeout == 10.0  # default
    assert config.config_file == toml

    assert config_from_args(["--config", str(toml)]).kmip_port == 1003  # environment
    monkeypatch.delenv("KMS_KMIP_PORT")
    assert config_from_args(["--config", str(toml)]).kmip_port == 1002  # .env
    dotenv.unlink()
    assert config_from_args(["--config", str(toml)]).kmip_port == 1001  # TOML
    assert config_from_args([]).kmip_port == 5696  # default


def test_config_file_from_environment_and_dotenv(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = write(clean_env / "a.toml", "kmip_port = 2001\n")
    other = write(clean_env / "b.toml", "kmip_port = 2002\n")
    write(clean_env / ".env", f"KMS_CONFIG={toml}\n")
    assert config_from_args([]).kmip_port == 2001
    monkeypatch.setenv("KMS_CONFIG", str(other))
    assert config_from_args([]).kmip_port == 2002
    assert config_from_args([f"--config={toml}"]).kmip_port == 2001


def test_cosmian_variable_names(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ca = write(clean_env / "ca.pem", "x")
    cert = write(clean_env / "cert.pem", "x")
    key = write(clean_env / "key.pem", "x")
    env = {
        "KMS_SOCKET_SERVER_PORT": "7000",
        "KMS_SOCKET_SERVER_HOSTNAME": "127.0.0.1",
        "KMS_PORT": "7001",
        "KMS_HOSTNAME": "127.0.0.2",
        "KMS_DATABASE_TYPE": "postgresql",
        "KMS_DATABASE_URL": "postgresql://kms:pw@db/kms",
        "KMS_DEFAULT_USERNAME": "alice",
        "KMS_JWT_ISSUER_URI": "https://issuer.example",
        "KMS_TLS_CERT_FILE": str(cert),
        "KMS_TLS_KEY_FILE": str(key),
        "KMS_CLIENTS_CA_CERT_FILE": str(ca),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = config_from_args([])
    assert (config.kmip_port, config.bind, config.http_port, config.http_bind) == (7000, "127.0.0.1", 7001, "127.0.0.2")
    assert config.database_type == "postgresql"
    assert config.database_url == "postgresql://kms:pw@db/kms"
    assert config.default_username == "alice"
    assert config.jwt_issuer_uri == ("https://issuer.example",)
    assert (config.tls_cert, config.tls_key, config.client_ca) == (cert, key, ca)
    assert not config.generates_tls
    # Our own name wins over Cosmian's when both are set.
    monkeypatch.setenv("KMS_KMIP_PORT", "7002")
    assert config_from_args([]).kmip_port == 7002


def test_cosmian_names_in_dotenv(clean_env: Path) -> None:
    write(clean_env / ".env", "KMS_SOCKET_SERVER_PORT=7100\nKMS_KMIP_PORT=7101\nKMS_DATABASE_TYPE=SQLITE\n")
    config = config_from_args([])
    assert config.kmip_port == 7101
    assert config.database_type == "sqlite"


def test_sqlite_path_file_or_directory(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert config_from_args(["--sqlite-path", "db/keys.sqlite"]).sqlite_file == Path("db/keys.sqlite")
    # Cosmian's KMS_SQLITE_PATH names a directory (default ./sqlite-data).
    monkeypatch.setenv("KMS_SQLITE_PATH", "./sqlite-data")
    assert config_from_args([]).sqlite_file == Path("sqlite-data/kms.db")
    (clean_env / "existing.d").mkdir()
    assert config_from_args(["--sqlite-path", "existing.d"]).sqlite_file == Path("existing.d/kms.db")


def test_toml_relative_paths_and_errors(clean_env: Path) -> None:
    conf_dir = clean_env / "etc"
    conf_dir.mkdir()
    for name in ("server.pem", "server.key", "ca.pem"):
        write(conf_dir / name, "x")
    toml = write(
        conf_dir / "kms.toml",
        'tls-cert = "server.pem"\ntls_key = "server.key"\nclient_ca = "ca.pem"\ndata_dir = "/srv/kms"\n'
        'log_level = "DEBUG"\nnon_fips = true\n',
    )
    config = config_from_args(["--config", str(toml)])
    assert config.tls_cert == conf_dir / "server.pem"
    assert config.client_ca == conf_dir / "ca.pem"
    assert config.data_dir == Path("/srv/kms")
    assert config.log_level == "debug"
    assert config.non_fips is True

    bad_key = write(clean_env / "bad.toml", "kmip_prot = 1\n")
    with pytest.raises(ConfigError, match="unknown setting 'kmip_prot'"):
        config_from_args(["--config", str(bad_key)])
    bad_syntax = write(clean_env / "syntax.toml", "kmip_port = \n")
    with pytest.raises(ConfigError, match=r"syntax\.toml"):
        config_from_args(["--config", str(bad_syntax)])
    nested = write(clean_env / "nested.toml", "[db]\ndatabase_type = 'sqlite'\n")
    with pytest.raises(ConfigError, match="unknown setting 'db'"):
        config_from_args(["--config", str(nested)])


def test_values_from_files_are_validated(clean_env: Path) -> None:
    write(clean_env / ".env", "KMS_KMIP_PORT=99999\n")
    with pytest.raises(click.BadParameter):
        config_from_args([])
    write(clean_env / ".env", "KMS_DATABASE_TYPE=oracle\n")
    with pytest.raises(click.BadParameter):
        config_from_args([])


def test_inconsistent_settings_refused(clean_env: Path) -> None:
    cert = write(clean_env / "cert.pem", "x")
    with pytest.raises(ConfigError, match="--tls-cert given without --tls-key, --client-ca"):
        config_from_args(["--tls-cert", str(cert)])
    with pytest.raises(ConfigError, match="needs --database-url"):
        config_from_args(["--database-type", "postgresql"])


def test_dotenv_parser() -> None:
    text = "\n".join(
        [
            "# a comment",
            "",
            "PLAIN=value",
            "export EXPORTED=yes",
            "SPACED = padded  ",
            "TRAILING=abc # a comment",
            "HASH=a#b",
            "SINGLE='literal \\n # kept'",
            'DOUBLE="line\\nnext \\"q\\""  # comment',
            "EMPTY=",
            'EMPTY_QUOTED=""',
        ]
    )
    assert parse_dotenv(text) == {
        "PLAIN": "value",
        "EXPORTED": "yes",
        "SPACED": "padded",
        "TRAILING": "abc",
        "HASH": "a#b",
        "SINGLE": "literal \\n # kept",
        "DOUBLE": 'line\nnext "q"',
        "EMPTY": "",
        "EMPTY_QUOTED": "",
    }
    with pytest.raises(ConfigError, match=r"\.env:2: expected KEY=VALUE"):
        parse_dotenv("A=1\nnot a setting\n")
    with pytest.raises(ConfigError, match="unterminated"):
        parse_dotenv("A='open\n")
    with pytest.raises(ConfigError, match="after the closing quote"):
        parse_dotenv("A='x' y\n")


def test_help_lists_every_option_with_its_variables() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0, result.output
    text = re.sub(r"\s+", " ", result.output)
    for setting in SETTINGS:
        option = "--config" if setting.name == "config_file" else "--" + setting.name.replace("_", "-")
        assert option in text
        for envvar in setting.envvars:
            assert envvar in text, envvar
    assert "env var: KMS_KMIP_PORT, KMS_SOCKET_SERVER_PORT" in text


def test_secrets_masked() -> None:
    config = ServerConfig(database_type="postgresql", database_url="postgresql://kms:s3cret@db:5432/kms?ssl=1")
    masked = config.masked()
    assert masked["database_url"] == "postgresql://kms:****@db:5432/kms?ssl=1"
    assert "s3cret" not in repr(masked)
    assert mask_url("host=db password='a b' user=kms") == "host=db password=**** user=kms"
    assert mask_url("postgresql://db/kms") == "postgresql://db/kms"
    assert mask_url("postgresql://u:p@[::1]:5432/kms") == "postgresql://u:****@[::1]:5432/kms"
