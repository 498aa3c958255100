"""The evaluation of a pull request's head, handed from the job that loads models (its token cannot write) to
the job that posts (it never loads a model), as an artifact of plain files: `evaluation.json` and one report
and one model card per transition. The posting job reads it as untrusted data: every field is checked, sizes
are bounded, and nothing in it can name a file outside its folder or carry the bot's hidden markers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from bot.errors import ModelbotError
from bot.evidence import Status
from bot.flows.validate_pr import Evaluation, StepOutcome

MANIFEST = "evaluation.json"
MAX_REPORT = 65_000  # a comment holds 65,536 characters; the marker the bot adds must fit too
MAX_MANIFEST = 1_000_000
MAX_CARD = 30_000  # a model card's share of the pull request's body (markers.SECTION_LIMIT)
_SHA = re.compile(r"^[0-9a-f]{40}$")
_NAME = re.compile(r"^[A-Za-z0-9._/-]{1,200}$")
# The bot's hidden markers (which comment is which, the state record): never taken from handed text.
_MARKER = re.compile(r"<!--\s*modelbot(?=-state|:[^\s>]*\s*-->)", re.IGNORECASE)


class HandoffError(ModelbotError):
    """The evaluation's files are missing or not what the evaluation job writes."""


def write(folder: Path, evaluation: Evaluation) -> Path:
    """Write `evaluation` into `folder` (created); returns the manifest's path."""
    folder.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for index, outcome in enumerate(evaluation.outcomes):
        entry: dict[str, Any] = {
            "model": outcome.model,
            "stage": outcome.stage,
            "version": outcome.version,
            "status": outcome.status.value,
            "verdict": outcome.verdict,
        }
        report = evaluation.reports.get((outcome.model, outcome.stage))
        if report is not None:
            entry["report"] = f"report-{index}.md"
            (folder / entry["report"]).write_text(report, encoding="utf-8")
        card = evaluation.cards.get((outcome.model, outcome.stage))
        if card is not None:
            entry["card"] = f"card-{index}.md"
            (folder / entry["card"]).write_text(card, encoding="utf-8")
        outcomes.append(entry)
    manifest = {"head_sha": evaluation.head_sha, "refusals": list(evaluation.refusals), "outcomes": outcomes}
    path = folder / MANIFEST
    path.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return path


def read(folder: Path) -> Evaluation:
    """The evaluation in `folder`, checked field by field; HandoffError says what is wrong, and where."""
    path = folder / MANIFEST
    if not path.is_file():
        raise HandoffError(f"{path}: missing; the evaluation job did not hand over its results")
    if path.stat().st_size > MAX_MANIFEST:
        raise HandoffError(f"{path}: larger than {MAX_MANIFEST} bytes")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise HandoffError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise HandoffError(f"{path}: expected an object")
    head = _field(data, "head_sha", str, path)
    if not _SHA.match(head):
        raise HandoffError(f"{path}: head_sha: expected a 40-hex commit, got {head[:60]!r}")
    refusals = tuple(_text(r, f"{path}: refusals") for r in _field(data, "refusals", list, path))
    outcomes: list[StepOutcome] = []
    reports: dict[tuple[str, str], str] = {}
    cards: dict[tuple[str, str], str] = {}
    for i, item in enumerate(_field(data, "outcomes", list, path)):
        where = f"{path}: outcomes[{i}]"
        if not isinstance(item, dict):
            raise HandoffError(f"{where}: expected an object")
        model, stage = _name(item, "model", where), _name(item, "stage", where)
        version = item.get("version")
        if version is not None and (not isinstance(version, str) or not _NAME.match(version)):
            raise HandoffError(f"{where}: version: expected a version id or null")
        try:
            status = Status(str(item.get("status")))
        except ValueError:
            raise HandoffError(f"{where}: status: expected one of {', '.join(s.value for s in Status)}") from None
        outcomes.append(StepOutcome(model, stage, version, status, _text(item.get("verdict"), f"{where}: verdict")))
        if "report" in item:
            name = item["report"]
            if not isinstance(name, str) or not re.fullmatch(r"report-\d{1,4}\.md", name):
                raise HandoffError(f"{where}: report: expected report-N.md beside the manifest")
            report = folder / name
            if not report.is_file() or report.stat().st_size > 4 * MAX_REPORT:
                raise HandoffError(f"{where}: report {name}: missing or too large")
            text = report.read_text(encoding="utf-8", errors="replace")
            reports[(model, stage)] = _MARKER.sub("<!-- (removed)", text)[:MAX_REPORT]
        if "card" in item:
            cards[(model, stage)] = _file(folder, item["card"], "card", MAX_CARD, where)
    return Evaluation(head, refusals, tuple(outcomes), reports, cards)


def _file(folder: Path, name: Any, kind: str, limit: int, where: str) -> str:
    """A handed file named `<kind>-N.md` beside the manifest: bounded, the bot's markers taken out."""
    if not isinstance(name, str) or not re.fullmatch(rf"{kind}-\d{{1,4}}\.md", name):
        raise HandoffError(f"{where}: {kind}: expected {kind}-N.md beside the manifest")
    path = folder / name
    if not path.is_file() or path.stat().st_size > 4 * limit:
        raise HandoffError(f"{where}: {kind} {name}: missing or too large")
    return _MARKER.sub("<!-- (removed)", path.read_text(encoding="utf-8", errors="replace"))[:limit]


def _field(data: dict[str, Any], key: str, kind: type, path: Path) -> Any:
    value = data.get(key)
    if not isinstance(value, kind):
        raise HandoffError(f"{path}: {key}: expected {kind.__name__}")
    return value


def _name(item: dict[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not _NAME.match(value):
        raise HandoffError(f"{where}: {key}: expected a model or stage name")
    return value


def _text(value: Any, where: str, limit: int = 2_000) -> str:
    if not isinstance(value, str):
        raise HandoffError(f"{where}: expected text")
    return _MARKER.sub("<!-- (removed)", value)[:limit]
