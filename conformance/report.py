"""Printing results: a line per file, a table per version and profile, a summary.

The last line of :func:`render_text` is exactly ``N passed, M failed``
(files; XPASS counts as passed, XFAIL as failed).  :func:`to_json` carries
the same, machine-readably.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .expected import Expectation, expectation, status
from .runner import Result


def line(result: Result, expectations: Mapping[str, Expectation]) -> str:
    state = status(result, expectation(expectations, result.id))
    text = f"{state:<5} {result.version:<4} {result.id}"
    if not result.passed:
        text += f"  {result.detail}"
    return text


def _version_key(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in version.split("."))
    except ValueError:
        return (99,)


def table_rows(results: list[Result], expectations: Mapping[str, Expectation]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[Result]] = {}
    for r in results:
        groups.setdefault((r.version, r.profile), []).append(r)
    rows = []
    for (version, profile), members in sorted(groups.items(), key=lambda kv: (_version_key(kv[0][0]), kv[0][1])):
        states = [status(r, expectation(expectations, r.id)) for r in members]
        rows.append(
            {
                "version": version,
                "profile": profile,
                "files": len(members),
                "passed": sum(r.passed for r in members),
                "failed": sum(not r.passed for r in members),
                **{s.lower(): states.count(s) for s in ("PASS", "FAIL", "XFAIL", "XPASS")},
            }
        )
    return rows


def summary(results: list[Result]) -> str:
    passed = sum(r.passed for r in results)
    return f"{passed} passed, {len(results) - passed} failed"


def render_table(results: list[Result], expectations: Mapping[str, Expectation]) -> list[str]:
    header = f"{'version':<8}{'profile':<8}{'files':>6}{'pass':>6}{'fail':>6}{'FAIL':>6}{'XFAIL':>6}{'XPASS':>6}"
    out = [header, "-" * len(header)]
    for row in table_rows(results, expectations):
        out.append(
            f"{row['version']:<8}{row['profile']:<8}{row['files']:>6}{row['passed']:>6}{row['failed']:>6}"
            f"{row['fail']:>6}{row['xfail']:>6}{row['xpass']:>6}"
        )
    return out


def render_text(results: list[Result], expectations: Mapping[str, Expectation], lines: bool = True) -> str:
    out = [line(r, expectations) for r in results] if lines else []
    out += ["", *render_table(results, expectations), "", summary(results)]
    return "\n".join(out)


def to_json(results: list[Result], expectations: Mapping[str, Expectation]) -> dict[str, Any]:
    return {
        "results": [
            {
                "id": r.id,
                "path": r.path,
                "version": r.version,
                "profile": r.profile,
                "status": status(r, expectation(expectations, r.id)),
                "passed": r.passed,
                "expected_to_pass": expectation(expectations, r.id).passes,
                "reason": expectation(expectations, r.id).reason,
                "messages": r.messages,
                "where": r.where,
                "expected": r.expected,
                "actual": r.actual,
                "error": r.error,
                "seconds": round(r.seconds, 3),
            }
            for r in results
        ],
        "table": table_rows(results, expectations),
        "passed": sum(r.passed for r in results),
        "failed": sum(not r.passed for r in results),
        "unexpected_failures": [r.id for r in results if status(r, expectation(expectations, r.id)) == "FAIL"],
    }


def results_from_json(data: Mapping[str, Any]) -> list[Result]:
    fields = (
        "id",
        "path",
        "version",
        "profile",
        "passed",
        "messages",
        "where",
        "expected",
        "actual",
        "error",
        "seconds",
    )
    return [Result(**{f: entry[f] for f in fields}) for entry in data["results"]]
