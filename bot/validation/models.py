"""The only place that loads models: `mlflow.pyfunc` from the registry URIs that models.yaml lists.

Loading and predicting errors become ModelProblem with MLflow's first line, so a model that does not load or
does not answer is a failed gate with a reason, never a traceback.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from bot.errors import RefusedError

_MAX_MESSAGE = 300


class ModelProblem(RefusedError):
    """A model that cannot be loaded or does not answer."""


@dataclass(frozen=True)
class InputColumn:
    """One column of a model signature: name, MLflow type name (double, long, string...) and whether required."""

    name: str
    type: str
    required: bool = True


@dataclass(frozen=True)
class LoadedModel:
    uri: str
    pyfunc: Any
    inputs: tuple[InputColumn, ...] | None = None
    classes: tuple[Any, ...] | None = None

    @property
    def input_names(self) -> list[str] | None:
        return [c.name for c in self.inputs] if self.inputs else None


def first_line(exc: BaseException) -> str:
    """A short reason: MLflow and scikit-learn messages can embed a whole data frame."""
    text = str(getattr(exc, "message", None) or exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= _MAX_MESSAGE else line[: _MAX_MESSAGE - 1] + "…"


def load(uri: str, allowed: Collection[str] | None = None) -> LoadedModel:
    """Load a model by its registry URI; with `allowed`, only URIs listed there (those of models.yaml)."""
    if allowed is not None and uri not in allowed:
        raise ModelProblem(f"{uri} is not a URI listed in models.yaml; models load only from the registry entries")
    import mlflow.pyfunc

    try:
        model = mlflow.pyfunc.load_model(uri)
    except Exception as exc:
        raise ModelProblem(f"{uri} failed to load: {first_line(exc)}") from None
    return LoadedModel(uri, model, _inputs(model), _classes(model))


def predict(model: LoadedModel, frame: Any) -> Any:
    """The model's raw answer for `frame`, or ModelProblem with the reason it gave."""
    try:
        return model.pyfunc.predict(frame)
    except Exception as exc:
        raise ModelProblem(f"{model.uri} failed to predict: {first_line(exc)}") from None


def _inputs(model: Any) -> tuple[InputColumn, ...] | None:
    try:
        schema = model.metadata.get_input_schema()
    except Exception:
        return None
    if schema is None or not schema.has_input_names():
        return None
    columns = []
    for spec in schema.inputs:
        kind = getattr(getattr(spec, "type", None), "name", None) or str(getattr(spec, "type", "any"))
        columns.append(InputColumn(spec.name, kind, bool(getattr(spec, "required", True))))
    return tuple(columns)


def _classes(model: Any) -> tuple[Any, ...] | None:
    """Class order of a scikit-learn classifier's probability columns, when the flavor exposes the estimator."""
    estimator = getattr(getattr(model, "_model_impl", None), "sklearn_model", None)
    classes = getattr(estimator, "classes_", None)
    return tuple(classes.tolist()) if classes is not None and hasattr(classes, "tolist") else None
