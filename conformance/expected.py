"""The committed expectations (expected.toml) and the conformance statement (EXPECTED.md).

Theory of operation: ``expected.toml`` maps a case id (the file's stem,
unique across versions thanks to its ``-vv`` suffix) to ``"pass"`` or to the
reason it does not pass yet — the missing capability and the issue that
builds it.  A case not listed is expected to pass.  :func:`status` turns a
result and its expectation into PASS / FAIL / XFAIL / XPASS; only FAIL makes
a run unsuccessful.  :func:`suggest_reason` names the capability a failing
case needs from the operations and objects its requests use, so that a
regenerated file starts from a sensible reason; failures in cases that use
only the core's operations are labelled as core bugs to fix.
:func:`write_toml` and :func:`render_markdown` regenerate both files from a
run.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ttlv import REGISTRY, Item

from .cases import Case
from .runner import Result

PASS = "pass"
HERE = Path(__file__).parent
DEFAULT_TOML = HERE / "expected.toml"
DEFAULT_MARKDOWN = HERE / "EXPECTED.md"

CORE_BUG = "core: fix the server (issue 4)"
TARGET_PROFILES = frozenset({"BL", "SKLC", "SKFF", "OMOS", "SASED", "TL"})


@dataclass(frozen=True, slots=True)
class Expectation:
    passes: bool
    reason: str = ""


def load(path: Path | None) -> dict[str, Expectation]:
    if path is None or not path.exists():
        return {}
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    cases = data.get("cases", {})
    return {k: Expectation(v == PASS, "" if v == PASS else str(v)) for k, v in cases.items()}


def expectation(expectations: Mapping[str, Expectation], case_id: str) -> Expectation:
    return expectations.get(case_id, Expectation(True))


def status(result: Result, expected: Expectation) -> str:
    if result.passed:
        return "PASS" if expected.passes else "XPASS"
    return "FAIL" if expected.passes else "XFAIL"


# -- reasons ---------------------------------------------------------------------
def _ops(*names: str) -> frozenset[int]:
    return frozenset(REGISTRY.enum("Operation", n) for n in names)


#: Profiles whose every case needs a later issue's capability.
PROFILE_REASONS = {
    "AKLC": "asymmetric keys (issue 5)",
    "QS": "quantum-safe algorithms: asymmetric keys (issue 5)",
    "CS-BC": "cryptographic operations (issue 6)",
    "CS-AC": "cryptographic operations (issue 6)",
    "CS-RNG": "cryptographic operations: RNG (issue 6)",
    "AX": "cryptographic operations: AES XTS (issue 6)",
    "SUITEB": "cryptographic operations: Suite B (issue 6)",
    "MSGENC": "KMIP over HTTPS in XML/JSON (issue 8)",
    "PKCS11": "PKCS#11 operation (not planned)",
}

#: Operation -> the capability (and issue) it needs; checked in this order.
CAPABILITIES: tuple[tuple[frozenset[int], str], ...] = (
    (_ops("Login", "Logout", "Delegated Login"), "authentication: Login/Delegated Login (issue 7)"),
    (_ops("PKCS#11"), "PKCS#11 operation (not planned)"),
    (_ops("Poll", "Cancel", "Query Asynchronous Requests"), "asynchronous operations (not planned)"),
    (
        _ops("Create Key Pair", "Re-key Key Pair", "Certify", "Re-certify", "Validate", "Export", "Import", "Re-key"),
        "asymmetric keys, certificates, re-key, key formats, wrapping (issue 5)",
    ),
    (
        _ops(
            "Encrypt",
            "Decrypt",
            "Sign",
            "Signature Verify",
            "MAC",
            "MAC Verify",
            "Hash",
            "RNG Seed",
            "Derive Key",
            "Create Split Key",
            "Join Split Key",
            "RNG Retrieve",
        ),
        "cryptographic operations (issue 6)",
    ),
    (_ops("Obtain Lease", "Get Usage Allocation"), "leases and usage allocation (not planned)"),
    (_ops("Notify", "Put"), "server-to-client operations Notify/Put (not planned)"),
    (_ops("Set Defaults", "Set Constraints", "Get Constraints"), "2.x defaults and constraints (no issue yet)"),
)


def _handled_operations() -> frozenset[int]:
    from kmsd.ops.registry import load_all

    return frozenset(int(op) for op in load_all())


_OBJECT_TYPES_ISSUE_5 = frozenset(
    REGISTRY.enum("Object Type", n) for n in ("Public Key", "Private Key", "Certificate", "Split Key", "PGP Key")
)
_ISSUE_5_TAGS = frozenset(
    REGISTRY.tag(n)
    for n in ("Key Wrapping Specification", "Key Wrapping Data", "Certificate", "Private Key", "Public Key")
)
_AUTH_TAGS = frozenset(REGISTRY.tag(n) for n in ("Authentication", "Credential"))
_ASYNC_TAGS = frozenset(REGISTRY.tag(n) for n in ("Asynchronous Indicator",))
_OPERATION = REGISTRY.tag("Operation")
_OBJECT_TYPE = REGISTRY.tag("Object Type")


def _request_items(case: Case) -> Iterable[Item]:
    for exchange in case.exchanges:
        yield from exchange.request.walk()


def suggest_reason(case: Case | None, profile: str) -> str:
    """The capability a failing case needs, or :data:`CORE_BUG`."""
    if profile in PROFILE_REASONS:
        return PROFILE_REASONS[profile]
    if case is None:
        return "unreadable test-case file"
    items = list(_request_items(case))
    ops = {i.value for i in items if i.tag == _OPERATION}
    for needed, reason in CAPABILITIES:
        if ops & needed:
            return reason
    missing = sorted(op for op in ops if isinstance(op, int) and op not in _handled_operations())
    if missing:
        names = ", ".join(REGISTRY.enum_name("Operation", op) or hex(op) for op in missing)
        return f"operation {names} (not implemented, no issue yet)"
    tags = {i.tag for i in items}
    if tags & _AUTH_TAGS:
        return "authentication: credentials in the request header (issue 7)"
    if tags & _ASYNC_TAGS:
        return "asynchronous operations (not planned)"
    if tags & _ISSUE_5_TAGS or {i.value for i in items if i.tag == _OBJECT_TYPE} & _OBJECT_TYPES_ISSUE_5:
        return "asymmetric keys, certificates, key formats, wrapping (issue 5)"
    return CORE_BUG


# -- writing ---------------------------------------------------------------------
def write_toml(path: Path, reasons: Mapping[str, str]) -> None:
    lines = [
        "# Which OASIS test cases are expected to pass, and why the others do not yet.",
        '# "pass", or the missing capability (and the issue that builds it).  Cases not',
        "# listed are expected to pass.  Regenerate: python -m conformance expected --update-toml …",
        "",
        "[cases]",
    ]
    for case_id in sorted(reasons, key=_sort_key):
        lines.append(f"{_quote(case_id)} = {_quote(reasons[case_id])}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _sort_key(case_id: str) -> tuple[str, str]:
    from .cases import version_from_name

    return (version_from_name(case_id) or "", case_id)


def render_markdown(results: list[Result], expectations: Mapping[str, Expectation]) -> str:
    from .report import table_rows

    out = [
        "# OASIS KMIP conformance",
        "",
        "Generated by `python -m conformance expected --write` from a run over the OASIS test cases",
        "(`../shared/kmip-testcases`); edit `conformance/expected.toml` for the reasons, not this file.",
        "A case passes when every response matches under the profiles' permitted variations",
        "(see `conformance/rules.py`).",
        "",
        "| version | profile | cases | pass | not yet |",
        "|---|---|---:|---:|---:|",
    ]
    for row in table_rows(results, expectations):
        out.append(f"| {row['version']} | {row['profile']} | {row['files']} | {row['passed']} | {row['failed']} |")
    passed = sum(r.passed for r in results)
    out += ["", f"**{passed} of {len(results)} cases pass.**", ""]
    failing = [r for r in results if not r.passed]
    for version in sorted({r.version for r in failing}):
        out += [f"## {version}: cases that do not pass", "", "| case | why | first difference |", "|---|---|---|"]
        for r in sorted((r for r in failing if r.version == version), key=lambda r: (r.profile, r.id)):
            reason = expectation(expectations, r.id).reason or "REGRESSION: expected to pass"
            detail = r.detail.replace("|", "\\|")
            out.append(f"| {r.id} | {reason} | {detail[:200]} |")
        out.append("")
    return "\n".join(out)
