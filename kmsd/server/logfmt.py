"""Server log formats (not the audit log): ``--log-format console|json``.

``console`` is the readable one-line format.  ``json`` writes one JSON
object per line -- ``time`` (UTC, ISO 8601), ``level``, ``logger``,
``message`` -- plus any fields given through ``extra=`` (the start-up
configuration arrives as ``config``), and ``exception`` with the traceback
text when there is one.  Values that JSON cannot hold are written with
``str``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

CONSOLE_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
LOG_FORMATS = ("console", "json")

#: Attributes every LogRecord has; anything else came in through ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def configure_logging(level: str, fmt: str = "console") -> None:
    """Send the server's logs to stderr at ``level`` in format ``fmt`` (replacing earlier handlers)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(CONSOLE_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_kmsd", False):
            root.removeHandler(old)
    handler._kmsd = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
