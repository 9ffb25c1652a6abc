"""Server configuration: one frozen value, five layered sources.

Theory of operation: every setting is one row of :data:`SETTINGS` (its name,
its environment variables, its click type and help) and one field of
:class:`ServerConfig` (its type and default).  :class:`ConfigCommand` turns
the table into click options, so ``kmsd serve --help`` lists every option
with its variables and default, and nothing can be configurable in one
source but not another.

Precedence, highest first::

    command line  >  KMS_* environment  >  ./.env  >  TOML file  >  defaults

click itself resolves the first two (``envvar=``) and falls back to the
context's ``default_map``.  :meth:`ConfigCommand.make_context` builds that
map before click parses anything: the TOML file (``--config FILE``, or
``KMS_CONFIG`` from the environment or ``.env``) overlaid with the ``.env``
file of the working directory.  Values from ``.env`` and TOML go through the
same click types as the command line, so they are validated the same way.

Where the Cosmian KMS server has a variable for the same thing, its name is
accepted after ours (``KMS_DATABASE_TYPE``, ``KMS_SOCKET_SERVER_PORT``,
``KMS_CLIENTS_CA_CERT_FILE``, …) so a Cosmian deployment can move over
without renaming its variables.  When both are set, ours wins.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import click

from ttlv.binary import DEFAULT_MAX_SIZE

#: The IANA-registered KMIP port (KMIP spec, "Port Number").
KMIP_PORT = 5696
#: Cosmian's HTTP port, kept so its clients find us (kmsd.http).
HTTP_PORT = 9998
#: A server listens on every interface by default, like Cosmian and PyKMIP;
#: access is guarded by mutual TLS, not by the bind address.
DEFAULT_BIND = "0.0.0.0"
#: KMIP clients (PyKMIP, MongoDB, VMware) keep one connection open between
#: operations; five quiet minutes is generous for them and still reclaims
#: sockets that were abandoned without a FIN.
IDLE_TIMEOUT = 300.0
#: A TLS handshake takes a few round trips; 10 s covers slow links while a
#: client that connects and says nothing cannot hold a socket for long.
HANDSHAKE_TIMEOUT = 10.0
#: How long shutdown waits for in-flight requests to be answered.
SHUTDOWN_GRACE = 10.0
#: Enough for every expected deployment; each connection may buffer up to
#: ``max_message_size`` bytes, so this also bounds memory.
MAX_CONNECTIONS = 1000
SQLITE_FILENAME = "kms.db"
DOTENV_FILENAME = ".env"
DATABASE_TYPES = ("sqlite", "postgresql", "mysql")
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("console", "json")
#: Audit files rotate at 64 MiB (kmsd.audit.sinks); 10 rotated files are kept.
AUDIT_ROTATE_BYTES = 64 * 1024 * 1024
AUDIT_KEEP = 10
#: A MAC record seals the audit chain every this many records (kmsd.audit.chain).
AUDIT_MAC_EVERY = 1000
AUDIT_FILENAME = "audit.jsonl"
#: Metrics are for the local scraper unless an operator opens them up.
METRICS_BIND = "127.0.0.1"
CLIENT_IDENTITIES = ("cn", "san-email", "san-uri")  # kmsd.auth.identity
AUTH_MODES = ("any", "cert-and-token")  # kmsd.auth.authenticator
MASK = "****"


class ConfigError(click.ClickException):
    """A configuration source is unreadable or its values are inconsistent."""


@dataclass(frozen=True, slots=True)
class ServerConfig:
    data_dir: Path = Path("kms-data")
    bind: str = DEFAULT_BIND
    kmip_port: int = KMIP_PORT
    http_bind: str | None = None  # kmsd.http.service.http_bind: 0.0.0.0, or 127.0.0.1 under --insecure
    http_port: int = HTTP_PORT
    tls_cert: Path | None = None
    tls_key: Path | None = None
    client_ca: Path | None = None
    database_type: str = "sqlite"
    database_url: str | None = None
    sqlite_path: Path | None = None
    default_username: str = "admin"
    client_identity: str = "cn"
    auth_mode: str = "any"
    insecure: bool = False
    i_know: bool = False
    users_file: Path | None = None
    api_token_file: Path | None = None
    jwt_issuer_uri: tuple[str, ...] = ()
    jwt_jwks_uri: tuple[str, ...] = ()
    jwt_audience: tuple[str, ...] = ()
    jwt_identity_claim: str = "email"
    privileged_users: tuple[str, ...] = ()
    max_message_size: int = DEFAULT_MAX_SIZE
    max_connections: int = MAX_CONNECTIONS
    workers: int = 1
    worker_affinity: str = "auto"
    idle_timeout: float = IDLE_TIMEOUT
    handshake_timeout: float = HANDSHAKE_TIMEOUT
    shutdown_grace: float = SHUTDOWN_GRACE
    log_level: str = "info"
    log_format: str = "console"
    audit_log: Path | None = None
    audit_rotate_bytes: int = AUDIT_ROTATE_BYTES
    audit_keep: int = AUDIT_KEEP
    audit_fsync: bool = False
    audit_stderr: bool = False
    audit_syslog: str | None = None
    audit_mac_every: int = AUDIT_MAC_EVERY
    metrics_bind: str = METRICS_BIND
    metrics_port: int | None = None
    non_fips: bool = False
    unique_names: bool = False
    key_encryption_key: str | None = None
    config_file: Path | None = None

    SECRETS: ClassVar[frozenset[str]] = frozenset({"database_url"})

    def __post_init__(self) -> None:
        tls = {"--tls-cert": self.tls_cert, "--tls-key": self.tls_key, "--client-ca": self.client_ca}
        given = [name for name, value in tls.items() if value is not None]
        if given and len(given) != len(tls):
            missing = ", ".join(name for name, value in tls.items() if value is None)
            raise ConfigError(
                f"{', '.join(given)} given without {missing}: give all three TLS files, "
                "or none to use the generated development certificates"
            )
        if self.database_type != "sqlite" and not self.database_url:
            raise ConfigError(f"--database-type {self.database_type} needs --database-url")

    @property
    def certs_dir(self) -> Path:
        return self.data_dir / "certs"

    @property
    def audit_file(self) -> Path:
        """The current audit log file (rotated copies sit beside it as NAME.1, NAME.2, ...)."""
        return self.audit_log if self.audit_log is not None else self.data_dir / AUDIT_FILENAME

    @property
    def metrics_port_file(self) -> Path:
        """Where the server writes the metrics port it bound (useful with --metrics-port 0)."""
        return self.data_dir / "metrics.port"

    @property
    def port_file(self) -> Path:
        """Where the server writes the KMIP port it bound (useful with port 0)."""
        return self.data_dir / "kmip.port"

    @property
    def generates_tls(self) -> bool:
        """True when no TLS files are configured and the development PKI is used."""
        return self.tls_cert is None

    @property
    def sqlite_file(self) -> Path:
        """The SQLite database file.

        ``--sqlite-path`` may name the file, or, as Cosmian's
        ``KMS_SQLITE_PATH`` does, a directory (an existing one, or a path
        without a file suffix) that then holds ``kms.db``.
        """
        if self.sqlite_path is None:
            return self.data_dir / SQLITE_FILENAME
        if self.sqlite_path.is_dir() or not self.sqlite_path.suffix:
            return self.sqlite_path / SQLITE_FILENAME
        return self.sqlite_path

    def masked(self) -> dict[str, object]:
        """The settings as a dict fit for a log line: secrets masked."""
        out: dict[str, object] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in self.SECRETS and value is not None:
                value = mask_url(str(value))
            out[f.name] = str(value) if isinstance(value, Path) else value
        return out


def mask_url(url: str) -> str:
    """Hide the password in a database URL or a libpq ``key=value`` DSN."""
    if "://" in url:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{parts.username or ''}:{MASK}@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return re.sub(r"(password\s*=\s*)('[^']*'|\S+)", rf"\g<1>{MASK}", url, flags=re.IGNORECASE)


# -- the settings table ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Setting:
    name: str  # ServerConfig field, TOML key, and --option-name with dashes
    envvars: tuple[str, ...]  # ours first, then the Cosmian KMS aliases
    type: click.ParamType[Any]
    help: str
    flag: bool = False
    show_default: str | bool = True
    # A list: a repeatable option whose values may also be comma-separated; a TOML list.
    multiple: bool = False


def _path(*, exists: bool = False, dir_okay: bool = True, file_okay: bool = True) -> click.Path:
    return click.Path(exists=exists, dir_okay=dir_okay, file_okay=file_okay, path_type=Path)


_FILE = _path(exists=True, dir_okay=False)
_PORT = click.IntRange(0, 65535)
_SECONDS = click.FloatRange(min=0, min_open=True)

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "config_file",
        ("KMS_CONFIG",),
        _FILE,
        "TOML file with settings (keys as below, with underscores).",
        show_default=False,
    ),
    Setting(
        "data_dir",
        ("KMS_DATA_DIR",),
        _path(file_okay=False),
        "Directory for the database, generated certificates and kmip.port.",
    ),
    Setting(
        "bind",
        ("KMS_BIND", "KMS_SOCKET_SERVER_HOSTNAME"),
        click.STRING,
        "Address the KMIP listener binds (0.0.0.0: every interface).",
    ),
    Setting(
        "kmip_port",
        ("KMS_KMIP_PORT", "KMS_SOCKET_SERVER_PORT"),
        _PORT,
        "KMIP (TTLV over TLS) port; 0 picks a free port (written to DATA_DIR/kmip.port).",
    ),
    Setting(
        "http_bind",
        ("KMS_HTTP_BIND", "KMS_HOSTNAME"),
        click.STRING,
        "Address of the HTTPS listener (KMIP over HTTP, Cosmian API, access management, web UI).",
        show_default="0.0.0.0; 127.0.0.1 with --insecure",
    ),
    Setting(
        "http_port",
        ("KMS_HTTP_PORT", "KMS_PORT"),
        _PORT,
        "HTTPS port; 0 picks a free port (written to DATA_DIR/http.port).",
    ),
    Setting(
        "tls_cert",
        ("KMS_TLS_CERT", "KMS_TLS_CERT_FILE"),
        _FILE,
        "Server certificate PEM, chain included. With --tls-key and --client-ca nothing is generated.",
        show_default="generated: DATA_DIR/certs/server.pem",
    ),
    Setting(
        "tls_key",
        ("KMS_TLS_KEY", "KMS_TLS_KEY_FILE"),
        _FILE,
        "Server private key PEM.",
        show_default="generated: DATA_DIR/certs/server.key",
    ),
    Setting(
        "client_ca",
        ("KMS_CLIENT_CA", "KMS_CLIENTS_CA_CERT_FILE"),
        _FILE,
        "CA bundle PEM that client certificates must chain to.",
        show_default="generated: DATA_DIR/certs/ca.pem",
    ),
    Setting(
        "database_type", ("KMS_DATABASE_TYPE",), click.Choice(DATABASE_TYPES, case_sensitive=False), "Database engine."
    ),
    Setting(
        "database_url",
        ("KMS_DATABASE_URL",),
        click.STRING,
        "Database URL (postgresql, mysql); its password is masked in logs.",
        show_default=False,
    ),
    Setting(
        "sqlite_path",
        ("KMS_SQLITE_PATH",),
        _path(),
        "SQLite file, or a directory to hold kms.db (Cosmian's convention).",
        show_default="DATA_DIR/kms.db",
    ),
    Setting(
        "default_username",
        ("KMS_DEFAULT_USERNAME",),
        click.STRING,
        "User name for callers no authentication method identifies.",
    ),
    Setting(
        "client_identity",
        ("KMS_CLIENT_IDENTITY",),
        click.Choice(CLIENT_IDENTITIES, case_sensitive=False),
        "Which client certificate field names the user: subject CN, SAN e-mail or SAN URI.",
    ),
    Setting(
        "auth_mode",
        ("KMS_AUTH_MODE",),
        click.Choice(AUTH_MODES, case_sensitive=False),
        "any: a client certificate or credentials; cert-and-token: a certificate AND a credential of the same user.",
    ),
    Setting(
        "insecure",
        ("KMS_INSECURE",),
        click.BOOL,
        "Development only: no authentication, every caller is --default-username.",
        flag=True,
    ),
    Setting(
        "i_know",
        ("KMS_I_KNOW",),
        click.BOOL,
        "With --insecure: allow the unauthenticated HTTP listener on a non-loopback address.",
        flag=True,
    ),
    Setting(
        "users_file",
        ("KMS_USERS_FILE",),
        _FILE,
        "Password users: lines USER:HASH (kmsd auth hash-password); enables KMIP Username/Password.",
        show_default=False,
    ),
    Setting(
        "api_token_file",
        ("KMS_API_TOKEN_FILE",),
        _FILE,
        "API tokens: lines USER:SHA256HEX-OF-TOKEN (kmsd auth new-token).",
        show_default=False,
    ),
    Setting(
        "jwt_issuer_uri",
        ("KMS_JWT_ISSUER_URI",),
        click.STRING,
        "JWT issuer(s) accepted (repeat, or separate with commas, for several identity providers).",
        show_default=False,
        multiple=True,
    ),
    Setting(
        "jwt_jwks_uri",
        ("KMS_JWKS_URI", "KMS_JWT_JWKS_URI"),
        click.STRING,
        "JWKS URI per issuer, in the same order.",
        show_default="ISSUER/.well-known/jwks.json",
        multiple=True,
    ),
    Setting(
        "jwt_audience",
        ("KMS_JWT_AUDIENCE",),
        click.STRING,
        "Audience tokens must name: one for all issuers, or one per issuer.",
        show_default=False,
        multiple=True,
    ),
    Setting(
        "jwt_identity_claim",
        ("KMS_JWT_IDENTITY_CLAIM",),
        click.STRING,
        "JWT claim holding the user name.",
    ),
    Setting(
        "privileged_users",
        ("KMS_PRIVILEGED_USERS",),
        click.STRING,
        "When set, only these users (and those they grant create on '*') may create or register objects"
        " (repeat, or separate with commas).",
        show_default=False,
        multiple=True,
    ),
    Setting(
        "max_message_size",
        ("KMS_MAX_MESSAGE_SIZE",),
        click.IntRange(min=64),
        "Largest KMIP message accepted, in bytes; bigger ones close the connection.",
    ),
    Setting(
        "max_connections",
        ("KMS_MAX_CONNECTIONS",),
        click.IntRange(min=1),
        "Concurrent KMIP connections; more are closed on accept.",
    ),
    Setting(
        "workers",
        ("KMS_WORKERS",),
        click.IntRange(1, 64),
        "Worker processes sharing the listening sockets (use one per core).",
    ),
    Setting(
        "worker_affinity",
        ("KMS_WORKER_AFFINITY",),
        click.Choice(["auto", "off"]),
        "With --workers: pin each worker to a CPU of its own (auto: when there are at least as many CPUs "
        "as workers) or let the kernel move them (off).",
    ),
    Setting(
        "idle_timeout",
        ("KMS_IDLE_TIMEOUT",),
        _SECONDS,
        "Seconds a connection may stay silent, or take to send one message.",
    ),
    Setting("handshake_timeout", ("KMS_HANDSHAKE_TIMEOUT",), _SECONDS, "Seconds allowed for the TLS handshake."),
    Setting(
        "shutdown_grace",
        ("KMS_SHUTDOWN_GRACE",),
        _SECONDS,
        "Seconds shutdown waits for in-flight requests to be answered.",
    ),
    Setting("log_level", ("KMS_LOG_LEVEL",), click.Choice(LOG_LEVELS, case_sensitive=False), "Log level."),
    Setting(
        "log_format",
        ("KMS_LOG_FORMAT",),
        click.Choice(LOG_FORMATS, case_sensitive=False),
        "Server log format on stderr: readable lines, or one JSON object per line.",
    ),
    Setting(
        "audit_log",
        ("KMS_AUDIT_LOG",),
        _path(dir_okay=False),
        "Audit log (JSON lines, hash-chained; check with kmsd audit verify).",
        show_default=f"DATA_DIR/{AUDIT_FILENAME}",
    ),
    Setting(
        "audit_rotate_bytes",
        ("KMS_AUDIT_ROTATE_BYTES",),
        click.IntRange(min=1024),
        "Rotate the audit log when it would grow past this size (bytes).",
    ),
    Setting("audit_keep", ("KMS_AUDIT_KEEP",), click.IntRange(min=1), "Rotated audit files kept (NAME.1 ... NAME.N)."),
    Setting(
        "audit_fsync",
        ("KMS_AUDIT_FSYNC",),
        click.BOOL,
        "fsync each request's audit records before its response (default: flushed to the OS).",
        flag=True,
    ),
    Setting("audit_stderr", ("KMS_AUDIT_STDERR",), click.BOOL, "Also write audit records to stderr.", flag=True),
    Setting(
        "audit_syslog",
        ("KMS_AUDIT_SYSLOG",),
        click.STRING,
        "Also send audit records to syslog: a unix socket path (/dev/log) or udp:HOST:PORT.",
        show_default=False,
    ),
    Setting(
        "audit_mac_every",
        ("KMS_AUDIT_MAC_EVERY",),
        click.IntRange(min=1),
        "Seal the audit chain with an HMAC record (key: DATA_DIR/audit.key) every N records, and at shutdown.",
    ),
    Setting("metrics_bind", ("KMS_METRICS_BIND",), click.STRING, "Address of the /metrics and /health listener."),
    Setting(
        "metrics_port",
        ("KMS_METRICS_PORT",),
        _PORT,
        "Serve Prometheus /metrics and /health over plain HTTP on this port (0: a free one, "
        "written to DATA_DIR/metrics.port).",
        show_default="off",
    ),
    Setting(
        "non_fips",
        ("KMS_NON_FIPS",),
        click.BOOL,
        "Allow algorithms outside the FIPS-approved set (3DES, ChaCha20, Ed448, ...).",
        flag=True,
    ),
    Setting(
        "unique_names",
        ("KMS_UNIQUE_NAMES",),
        click.BOOL,
        "Refuse a Name another visible object already holds (the KMIP rule; off by default because "
        "PyKMIP-based clients give every object of a type the same default name).",
        flag=True,
    ),
    Setting(
        "key_encryption_key",
        ("KMS_KEY_ENCRYPTION_KEY",),
        click.STRING,
        "Unique Identifier of a key in the store (AES with Wrap Key and Unwrap Key usages, or an RSA key pair) "
        "under which every key's material is stored wrapped; existing keys are wrapped at start-up.",
        show_default=False,
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}
_CONFIG_OPTION = "--config"


def _option_name(setting: Setting) -> str:
    return "--config" if setting.name == "config_file" else "--" + setting.name.replace("_", "-")


def _make_option(setting: Setting) -> click.Option:
    default = None if setting.name == "config_file" else ServerConfig.__dataclass_fields__[setting.name].default
    if isinstance(default, Path):
        default = str(default)
    return click.Option(
        [_option_name(setting), setting.name],
        type=None if setting.flag else setting.type,
        is_flag=setting.flag,
        multiple=setting.multiple,
        default=default,
        envvar=list(setting.envvars),
        show_envvar=True,
        show_default=setting.show_default,
        help=setting.help,
    )


# -- .env and TOML ----------------------------------------------------------------------

_DOTENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_DOUBLE_QUOTED_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def parse_dotenv(text: str, *, source: str = DOTENV_FILENAME) -> dict[str, str]:
    """Parse ``KEY=VALUE`` lines: ``#`` comments, ``export`` prefix, quotes.

    Single quotes are literal; double quotes understand ``\\n \\t \\r \\" \\\\``.
    An unquoted value ends at `` #``.  A malformed line is an error, not
    silently skipped: a typo in a configuration file should be seen.
    """
    out: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _DOTENV_LINE.match(line)
        if match is None:
            raise ConfigError(f"{source}:{number}: expected KEY=VALUE")
        key, raw = match.groups()
        out[key] = _dotenv_value(raw, f"{source}:{number}")
    return out


def _dotenv_value(raw: str, where: str) -> str:
    if raw[:1] in ("'", '"'):
        quote = raw[0]
        chars: list[str] = []
        i = 1
        while i < len(raw):
            c = raw[i]
            if c == quote:
                rest = raw[i + 1 :].strip()
                if rest and not rest.startswith("#"):
                    raise ConfigError(f"{where}: text after the closing quote")
                return "".join(chars)
            if c == "\\" and quote == '"' and i + 1 < len(raw):
                nxt = raw[i + 1]
                chars.append(_DOUBLE_QUOTED_ESCAPES.get(nxt, "\\" + nxt))
                i += 2
                continue
            chars.append(c)
            i += 1
        raise ConfigError(f"{where}: unterminated {quote} quote")
    return re.split(r"\s+#", raw, maxsplit=1)[0].strip()


def read_dotenv(directory: Path) -> dict[str, str]:
    path = directory / DOTENV_FILENAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    return parse_dotenv(text, source=str(path))


def read_toml(path: Path) -> dict[str, Any]:
    """Settings from a TOML file: flat keys named like the options.

    Relative paths in the file are taken relative to the file's directory,
    so a configuration file can travel with the certificates beside it.
    """
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration file {path}: {exc}") from exc
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        setting = _BY_NAME.get(name)
        if setting is None or name == "config_file":
            known = ", ".join(s.name for s in SETTINGS if s.name != "config_file")
            raise ConfigError(f"configuration file {path}: unknown setting {key!r} (known: {known})")
        if setting.multiple:
            value = [value] if isinstance(value, str) else value
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"configuration file {path}: {key} must be a string or a list of strings")
        elif isinstance(value, dict | list):
            raise ConfigError(f"configuration file {path}: {key} must be a single value")
        if isinstance(setting.type, click.Path) and isinstance(value, str) and not Path(value).is_absolute():
            value = str(path.parent / value)
        out[name] = value
    return out


def _config_file_from_args(args: Sequence[str]) -> str | None:
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == _CONFIG_OPTION and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(_CONFIG_OPTION + "="):
            return arg.split("=", 1)[1]
    return None


def _first(envvars: Sequence[str], source: Mapping[str, str]) -> str | None:
    for name in envvars:
        if name in source:
            return source[name]
    return None


def layered_defaults(
    args: Sequence[str], environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> dict[str, Any]:
    """The ``default_map`` under the command line and environment: .env over TOML."""
    environ = os.environ if environ is None else environ
    dotenv = read_dotenv(Path.cwd() if cwd is None else cwd)
    config_envvars = _BY_NAME["config_file"].envvars
    config_file = _config_file_from_args(args) or _first(config_envvars, environ) or _first(config_envvars, dotenv)
    defaults: dict[str, Any] = read_toml(Path(config_file)) if config_file else {}
    for setting in SETTINGS:
        value = _first(setting.envvars, dotenv)
        if value is not None:
            defaults[setting.name] = value.split() if setting.multiple else value
    return defaults


# -- the click command --------------------------------------------------------------------


class ConfigCommand(click.Command):
    """A click command whose options are :data:`SETTINGS`, layered as described above.

    The callback receives one argument, ``config``: the resolved
    :class:`ServerConfig`.
    """

    def __init__(self, name: str, callback: Any = None, **kwargs: Any) -> None:
        params: list[click.Parameter] = [_make_option(s) for s in SETTINGS]
        inner = callback

        def _callback(**values: Any) -> Any:
            config = config_from_params(values)
            return inner(config) if inner is not None else config

        super().__init__(name, callback=_callback, params=params, **kwargs)

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        if "default_map" not in extra:
            extra["default_map"] = layered_defaults(args)
        return super().make_context(info_name, args, parent, **extra)


_PATH_SETTINGS = ("data_dir", "sqlite_path", "tls_cert", "tls_key", "client_ca", "config_file")


def _split_list(values: Sequence[str] | None) -> tuple[str, ...]:
    """A list setting's values: each may hold several, separated by commas."""
    return tuple(part.strip() for value in values or () for part in value.split(",") if part.strip())


def config_from_params(values: Mapping[str, Any]) -> ServerConfig:
    """Build the config from click's resolved parameter values."""
    kwargs = dict(values)
    for name in ("database_type", "log_level", "client_identity", "auth_mode", "log_format"):
        if name in kwargs:
            kwargs[name] = str(kwargs[name]).lower()
    for setting in SETTINGS:
        if setting.multiple and setting.name in kwargs:
            kwargs[setting.name] = _split_list(kwargs[setting.name])
    for name in (*_PATH_SETTINGS, "users_file", "api_token_file", "audit_log"):
        if kwargs.get(name) is not None:
            kwargs[name] = Path(kwargs[name])
    return ServerConfig(**kwargs)


def config_from_args(args: Sequence[str]) -> ServerConfig:
    """Resolve a config as ``kmsd serve ARGS`` would, without serving (tests, tools)."""
    command = ConfigCommand("serve")
    with command.make_context("serve", list(args)) as ctx:
        result = command.invoke(ctx)
    assert isinstance(result, ServerConfig)
    return result
