"""MLflow's scoring payloads in, MLflow's answers out: the gateway parses a request exactly as
`mlflow models serve` does (MLflow's own parsers, with the model's signature read from its MLmodel file, which
is data). As in `mlflow models serve`, the signature itself is enforced where the model runs (pyfunc's
`predict`, in the model process); the gateway checks it again only when a model process has failed a request
(`enforce`), so a wrong request is the client's 400 and never a model error that would trigger the fallback,
without the check's cost on every answered request.

The dataframe formats are cast to the signature's column types as MLflow's parser casts them, but in one
`astype` over the columns whose type differs (MLflow casts every column one by one, most of a request's cost
for a wide frame); any other column type, or a cast that fails, goes through MLflow's own code.

Formats: JSON with one of `dataframe_split`, `dataframe_records`, `instances`, `inputs` (and CSV, as MLflow).
Answers: `{"predictions": ...}` by MLflow's own encoder, byte for byte what `mlflow models serve` sends.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.validation.host import first_line

JSON = "application/json"
CSV = "text/csv"
FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


class BadInput(Exception):
    """The request is wrong: the status to answer and a message naming the problem."""

    def __init__(self, message: str, status: int = 400, code: str = "BAD_REQUEST") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Signature:
    """What the gateway knows of one model version without running its code: the MLmodel metadata."""

    uri: str
    metadata: Any  # mlflow.models.Model
    input_schema: Any  # mlflow.types.Schema | None
    flavor: str | None
    has_params: bool
    casts: Mapping[str, Any] | None = None  # column -> numpy dtype, when every column is a plain scalar type
    # the input schema as JSON: versions with equal `reads` read a request alike (MLflow's Schema equality walks
    # every column's properties, ~0.4 ms for 30 columns; compared on every fallback and mirrored answer)
    reads: str | None = None

    @classmethod
    def read(cls, uri: str) -> Signature:
        from mlflow.models import Model

        metadata = Model.load(uri)
        pyfunc = metadata.flavors.get("python_function", {})
        params = getattr(metadata, "get_params_schema", lambda: None)()
        schema = getattr(metadata, "get_input_schema")()  # noqa: B009 (MLflow's method is untyped)
        return cls(
            uri,
            metadata,
            schema,
            pyfunc.get("loader_module"),
            params is not None,
            plain_casts(schema),
            schema.to_json() if schema is not None else None,
        )


def preload() -> None:
    """Import the MLflow modules a request uses (they are imported lazily, by the first request otherwise)."""
    import mlflow.models.utils
    import mlflow.pyfunc.scoring_server
    import mlflow.utils.proto_json_utils  # noqa: F401


def plain_casts(schema: Any) -> dict[str, Any] | None:
    """The numpy type of each named column when every column is a boolean or a number (the columns MLflow's
    parser casts with a plain `astype`); None for any other schema (strings, binary, datetimes, arrays,
    objects, tensors), which MLflow's own cast handles."""
    from mlflow.types.schema import DataType

    plain = {DataType.boolean, DataType.integer, DataType.long, DataType.float, DataType.double}
    if schema is None or not schema.has_input_names() or schema.is_tensor_spec():
        return None
    names, types = schema.input_names(), schema.input_types()
    if not all(isinstance(t, DataType) and t in plain for t in types) or len(set(names)) != len(names):
        return None
    return {str(name): kind.to_pandas() for name, kind in zip(names, types, strict=True)}


def _media(content_type: str | None) -> str:
    if not content_type:
        raise BadInput(f"no Content-Type: send {JSON} (or {CSV})", 415, "UNSUPPORTED_MEDIA_TYPE")
    parts = [p.strip() for p in content_type.split(";")]
    params = dict(p.partition("=")[::2] for p in parts[1:] if p)
    if params.get("charset", "utf-8").lower() != "utf-8":
        raise BadInput("only UTF-8 bodies are accepted", 415, "UNSUPPORTED_MEDIA_TYPE")
    media = parts[0].lower()
    if media not in (JSON, CSV):
        raise BadInput(
            f"Content-Type {parts[0]!r} is not accepted: send {JSON} (or {CSV})", 415, "UNSUPPORTED_MEDIA_TYPE"
        )
    return media


def decode_json(body: bytes) -> dict[str, Any]:
    """The request's JSON object; exactly one of MLflow's four format keys (and optionally `params`)."""
    try:
        found = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"the body is not valid JSON: {exc}") from None
    if not isinstance(found, dict):
        raise BadInput(
            f"the body must be a JSON object with one of the keys {', '.join(FORMATS)}; got a {type(found).__name__}"
        )
    keys = [k for k in found if k in FORMATS]
    if len(keys) != 1:
        given = ", ".join(repr(k) for k in found) or "none"
        raise BadInput(f"the body must hold exactly one of the keys {', '.join(FORMATS)}; keys given: {given}")
    unknown = [k for k in found if k not in FORMATS and k != "params"]
    if unknown:
        raise BadInput(
            f"unknown key {unknown[0]!r} in the body; expected one of {', '.join(FORMATS)} and optionally 'params'"
        )
    return found


@dataclass(frozen=True)
class Parsed:
    """A request read for one signature: the model input, its row count, and the payload as sent (for the log)."""

    data: Any
    rows: int | None
    inputs: Any


def parse(body: bytes, content_type: str | None, signature: Signature, *, check: bool = True) -> Parsed:
    """The model input MLflow's scoring server would hand the model; with `check`, also enforced against the
    signature here (without, the model process enforces it, as pyfunc's `predict` does)."""
    media = _media(content_type)
    inputs: Any = None
    from mlflow.exceptions import MlflowException
    from mlflow.pyfunc import scoring_server

    try:
        if media == CSV:
            inputs = body.decode("utf-8")
            data = scoring_server.parse_csv_input(io.StringIO(inputs), schema=signature.input_schema)
        else:
            decoded = decode_json(body)
            if decoded.get("params") is not None and signature.has_params:
                raise BadInput("'params' are not supported by the gateway; send the data alone")
            [(key, inputs)] = [(k, v) for k, v in decoded.items() if k in FORMATS]
            if key in ("dataframe_split", "dataframe_records"):
                data = dataframe(inputs, key.removeprefix("dataframe_"), signature)
            else:
                data = scoring_server.infer_and_parse_data({key: inputs}, signature.input_schema)
    except BadInput:
        raise
    except (MlflowException, ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
        raise BadInput(f"the payload cannot be read as the model's input: {first_line(exc)}") from None
    if check:
        data = enforce(data, signature)
    return Parsed(data, rows(data), inputs)


def dataframe(value: Any, orient: str, signature: Signature) -> Any:
    """MLflow's `dataframe_from_parsed_json` for a `split` or `records` payload, its per-column casts done in
    one `astype` of the columns whose type differs when the signature's columns are plain (`casts`)."""
    from mlflow.utils import proto_json_utils

    # MLflow's parser and cast are untyped
    read: Any = proto_json_utils.dataframe_from_parsed_json
    cast: Any = proto_json_utils.cast_df_types_according_to_schema
    schema = signature.input_schema
    if signature.casts is None:
        return read(value, orient, schema=schema)
    frame = read(value, orient, schema=None)
    if not frame.columns.is_unique:
        return cast(frame, schema)
    have = frame.dtypes.to_dict()
    wanted = {name: kind for name, kind in signature.casts.items() if name in have and have[name] != kind}
    if not wanted:
        return frame
    try:
        return frame.astype(wanted)
    except (ValueError, TypeError, OverflowError):
        return cast(frame, schema)  # MLflow's own error, naming the column


def enforce(data: Any, signature: Signature) -> Any:
    """MLflow's own schema enforcement, as pyfunc's predict applies it: a mismatch is the client's error."""
    if signature.input_schema is None:
        return data
    from mlflow.models.utils import _enforce_schema

    try:
        return _enforce_schema(data, signature.input_schema, signature.flavor)
    except Exception as exc:  # MLflow raises several types for a mismatch; each is the client's error here
        raise BadInput(f"the input does not match the model's signature: {first_line(exc)}") from None


def rows(data: Any) -> int | None:
    """How many rows the input holds (None when it has no row count, e.g. a dict of tensors)."""
    shape = getattr(data, "shape", None)
    if shape:
        return int(shape[0])
    if isinstance(data, list):
        return len(data)
    return None


def answer(raw: Any) -> tuple[bytes, Any]:
    """The body `mlflow models serve` answers for these predictions (as its `predictions_to_json` writes it),
    and the predictions as plain values."""
    from mlflow.utils.proto_json_utils import NumpyEncoder

    predictions = plain(raw)
    return json.dumps({"predictions": predictions}, cls=NumpyEncoder).encode("utf-8"), predictions


def plain(raw: Any) -> Any:
    """The predictions as the values MLflow writes (lists, numbers, strings): all a shadow's comparison needs."""
    from mlflow.utils import proto_json_utils

    return getattr(proto_json_utils, "_get_jsonable_obj")(raw, pandas_orient="records")  # noqa: B009


def constant_answer(constant: Any, count: int | None) -> bytes:
    return json.dumps({"predictions": [constant] * (count if count is not None else 1)}).encode()


def invalid(raw: Any, count: int | None) -> str | None:
    """Why an answer cannot be served (a row count other than the input's, or a number that is not finite),
    else None."""
    import numpy as np

    got = rows(raw)
    if count is not None and got is not None and got != count:
        return f"it answered {got} rows for {count}"
    values = raw.to_numpy() if hasattr(raw, "to_numpy") else raw
    try:
        array = np.asarray(values)
    except (ValueError, TypeError):
        return None
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        return "it answered a number that is not finite (NaN or infinity)"
    if array.dtype.kind == "O":
        for item in array.reshape(-1)[:10_000]:
            if isinstance(item, float) and not math.isfinite(item):
                return "it answered a number that is not finite (NaN or infinity)"
    return None


def label(prediction: Any, classes: tuple[Any, ...] | None) -> Any:
    """One row's answer as a label: itself, or the class of the largest probability when the row is a vector of
    class probabilities. For feedback and shadow agreement."""
    if isinstance(prediction, dict):
        prediction = list(prediction.values())
    if isinstance(prediction, list):
        if len(prediction) == 1:
            return label(prediction[0], classes)
        numbers = [p for p in prediction if isinstance(p, int | float) and not isinstance(p, bool)]
        if numbers and len(numbers) == len(prediction):
            best = max(range(len(numbers)), key=numbers.__getitem__)
            return classes[best] if classes and best < len(classes) else best
    return prediction


def agree(a: Any, b: Any, classes: tuple[Any, ...] | None) -> bool:
    """Two answers agree when every row has the same label (same class, or numbers within 1e-6 relative)."""
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return False
        return all(_same(label(x, classes), label(y, classes)) for x, y in zip(a, b, strict=True))
    return _same(label(a, classes), label(b, classes))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-9)
    return bool(a == b)
