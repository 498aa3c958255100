"""Reading models.yaml: strict YAML, the shipped schema, then the checks a schema cannot express."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from bot import schema, yamlio
from bot.errors import InvalidFile, Location, Problem, names
from bot.registry.model import Dataset, Evaluation, Model, Registry, Version, version_key


def parse(text: str, file: str = "models.yaml") -> Registry:
    """Text of models.yaml to a Registry, or InvalidFile with every problem located."""
    return parse_tree(text, file)[0]


def parse_tree(text: str, file: str = "models.yaml") -> tuple[Registry, yaml.Node | None]:
    """Like parse, and the node tree of the same pass, for locating keys without parsing again."""
    _refuse_indirection(text, file)
    data, root = yamlio.parse_document(text, file)
    validate(data, yamlio.Locator(text, file, root))
    return build(data, file), root


def _refuse_indirection(text: str, file: str) -> None:
    """models.yaml is reviewed line by line: a value must be written where it applies. An anchor, an alias or a
    merge key (`<<`) would let one line change another place (a stage hidden in a version's params, an edit by
    the bot that must rewrite two places), so they are refused, with their position."""
    if "&" not in text and "*" not in text and "<<" not in text:
        return
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            anchor = getattr(event, "anchor", None)
            merge = isinstance(event, yaml.ScalarEvent) and event.value == "<<" and event.style is None
            if isinstance(event, yaml.AliasEvent) or anchor or merge:
                mark = event.start_mark
                where = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
                what = "alias" if isinstance(event, yaml.AliasEvent) else "merge key" if merge else "anchor"
                raise InvalidFile(
                    [
                        Problem(
                            where,
                            f"YAML {what} found; {file} allows no anchors, aliases or merge keys: "
                            "write each value where it applies, so that every line a reviewer reads means what it says",
                        )
                    ]
                )
    except yaml.YAMLError:
        return  # the parse proper reports it, located


def validate(data: Any, locate: yamlio.Locator) -> None:
    """Schema, then semantic checks; InvalidFile with every problem located."""
    if not isinstance(data, dict):
        raise InvalidFile([Problem(locate([]), "expected a mapping with keys 'version' and 'models'")])
    found = schema.problems("models", data, locate)
    if found:
        raise InvalidFile(found)
    found = [Problem(locate(path), message) for path, message in semantic_problems(data)]
    if found:
        raise InvalidFile(found[: schema.MAX_PROBLEMS])


def read(raw: bytes, file: str = "models.yaml") -> Registry:
    return parse(yamlio.decode(raw, file), file)


def semantic_problems(data: Mapping[str, Any]) -> list[tuple[list[str | int], str]]:
    """What the schema cannot say: unique versions, stages and deployment state pointing at real versions."""
    found: list[tuple[list[str | int], str]] = []
    for name, model in data["models"].items():
        ids: dict[str, int] = {}
        for index, entry in enumerate(model["versions"]):
            key = version_key(entry["version"])
            if key in ids:
                found.append(
                    (
                        ["models", name, "versions", index, "version"],
                        f"version {key} is registered twice (first at versions[{ids[key]}])",
                    )
                )
            ids.setdefault(key, index)
        for stage, held in model["stages"].items():
            if held is not None and version_key(held) not in ids:
                found.append(
                    (
                        ["models", name, "stages", stage],
                        f"stage '{stage}' points at version {held}, which is not registered; "
                        f"registered: {names(ids, 30)}",
                    )
                )
        found.extend(_deployment_problems(name, model, ids))
        found.extend(_evaluation_problems(name, model["evaluation"]))
    return found


def _deployment_problems(
    name: str, model: Mapping[str, Any], ids: Mapping[str, int]
) -> list[tuple[list[str | int], str]]:
    found: list[tuple[list[str | int], str]] = []
    for stage, state in model.get("deployment", {}).items():
        path: list[str | int] = ["models", name, "deployment", stage]
        if stage not in model["stages"]:
            found.append((path, f"deployment state for stage '{stage}', which the model's stages do not list"))
        referenced = list(state.get("traffic", {})) + [
            state[k] for k in ("shadow", "preview", "fallback") if k in state
        ]
        for ref in referenced:
            if version_key(ref) not in ids:
                found.append((path, f"refers to version {ref}, which is not registered"))
        weights = state.get("traffic")
        if weights and abs(sum(weights.values()) - 100) > 1e-9:
            found.append(([*path, "traffic"], f"traffic weights add up to {sum(weights.values()):g}; expected 100"))
    return found


def _evaluation_problems(name: str, evaluation: Mapping[str, Any]) -> list[tuple[list[str | int], str]]:
    slices = evaluation.get("slices", [])
    found: list[tuple[list[str | int], str]] = []
    for index, pair in enumerate(evaluation.get("slice_crosses", [])):
        unknown = [col for col in pair if col not in slices]
        if unknown or pair[0] == pair[1]:
            found.append(
                (
                    ["models", name, "evaluation", "slice_crosses", index],
                    f"a cross pairs two different columns listed in 'slices' ({', '.join(slices) or 'none'}); "
                    f"got {pair}",
                )
            )
    if evaluation["target"] in slices:
        found.append((["models", name, "evaluation", "slices"], "the target column cannot be a slice column"))
    return found


def _dataset(raw: Mapping[str, Any] | None) -> Dataset | None:
    return Dataset(raw["data"], raw["sha256"]) if raw else None


def _version(raw: Mapping[str, Any]) -> Version:
    return Version(
        id=version_key(raw["version"]),
        uri=raw["uri"],
        created_at=raw["created_at"],
        created_by=raw["created_by"],
        run_id=raw.get("run_id"),
        description=raw.get("description"),
        metrics=raw.get("metrics", {}),
        training_metrics=raw.get("training_metrics", {}),
        lineage=raw.get("lineage", {}),
    )


def _model(name: str, raw: Mapping[str, Any]) -> Model:
    ev = raw["evaluation"]
    return Model(
        name=name,
        description=raw["description"],
        owners=tuple(raw["owners"]),
        task=raw["task"],
        policy=raw.get("policy", "default"),
        evaluation=Evaluation(
            data=ev["data"],
            sha256=ev["sha256"],
            target=ev["target"],
            slices=tuple(ev.get("slices", ())),
            slice_crosses=tuple((a, b) for a, b in ev.get("slice_crosses", ())),
            reference=_dataset(ev.get("reference")),
            replay=_dataset(ev.get("replay")),
        ),
        versions=tuple(_version(v) for v in raw["versions"]),
        stages={stage: (None if held is None else version_key(held)) for stage, held in raw["stages"].items()},
        deployment=raw.get("deployment", {}),
    )


def build(data: Mapping[str, Any], file: str) -> Registry:
    return Registry({name: _model(name, raw) for name, raw in data["models"].items()}, file)
