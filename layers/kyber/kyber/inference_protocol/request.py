"""An inference request read: JSON only (Triton's binary extension refused), its id, its one input tensor decoded
by the codec, and the outputs it asks for with their classification count, or what is wrong with them."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import orjson

from kyber.errors import BatchTooLargeError, InferenceRequestError, NotJsonError
from kyber.inference_protocol.codec import FLOAT_LIMITS, INTEGER_DATATYPES, InputLimits, accepts, decoded
from kyber.proxy_event import ProxyEvent, headers_of
from kyber.validation import json_kind

CLASSIFICATION = "classification"
# Triton's binary tensor extension: the JSON header's length, the type of the bytes after it, and the parameter
# that says an input's data is binary.
BINARY_HEADER = "inference-header-content-length"


BINARY_CONTENT_TYPE = "application/octet-stream"


BINARY_DATA_SIZE = "binary_data_size"


# What a parameter's value may be (the protocol's $parameter): a string, a number or a boolean.
PARAMETER_TYPES = frozenset((str, int, float, bool))


SEND_JSON = "send the tensors as JSON (tritonclient: binary_data=False on every input and output)"


class Inference(NamedTuple):
    """What one inference request asks: its id, its rows, and the outputs it wants (with a classification count)."""

    request_id: str | None
    batch: np.ndarray
    outputs: dict[str, int | None]


def require_json(event: ProxyEvent) -> None:
    """Refuse Triton's binary tensor extension, which says so in its headers, before reading the body."""
    headers = headers_of(event)
    content_type = str(headers.get("content-type") or "").split(";")[0].strip().lower()
    if BINARY_HEADER in headers:
        raise NotJsonError(f"binary tensor data is not accepted (Inference-Header-Content-Length); {SEND_JSON}")
    if content_type == BINARY_CONTENT_TYPE:
        raise NotJsonError(f"Content-Type {BINARY_CONTENT_TYPE} is not accepted; {SEND_JSON}")


def parse_inference_request(payload: dict[str, Any], limits: InputLimits, output_names: tuple[str, str]) -> Inference:
    """The request's id, rows and outputs, or what is wrong with them. Keys and parameters the protocol
    leaves to servers (binary_data_output, binary_data, ...) are ignored: the answer is JSON."""
    # A key the protocol types is absent or of its type: null is not "absent".
    request_id = payload.get("id")
    if "id" in payload and not isinstance(request_id, str):
        raise InferenceRequestError(f"id must be a string, got {json_kind(request_id)}")
    _parameters_of(payload, "the request")
    inputs = payload.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
        raise InferenceRequestError(
            f"inputs must be a list of one tensor object, {limits.name!r}; got {_described(inputs)}"
        )
    batch = parse_input(inputs[0], limits)
    outputs = parse_outputs(payload["outputs"], output_names) if "outputs" in payload else dict.fromkeys(output_names)
    return Inference(request_id, batch, outputs)


def inference_request_schema(limits: InputLimits, output_names: tuple[str, str], labels: int) -> dict[str, Any]:
    """What parse_inference_request takes beyond the protocol's published InferenceRequest, as JSON Schema for the
    API's description: one input as the model takes it (name, datatypes, shape, row limit, data filling the shape),
    the model's outputs with their classification count, and no null where the protocol lets a key be absent."""
    features, max_rows = limits.features, limits.max_rows
    number = {"type": "number", "description": "A finite measurement, read as the JSON number it is."}
    row = {"type": "array", "items": number, "minItems": features, "maxItems": features}
    tensor = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "const": limits.name},
            "shape": {
                "type": "array",
                "prefixItems": [{"type": "integer", "minimum": 1, "maximum": max_rows}, {"const": features}],
                "minItems": 2,
                "maxItems": 2,
                "description": f"[rows, {features}], at most {max_rows} rows.",
            },
            "datatype": {
                "type": "string",
                "enum": [*FLOAT_LIMITS, *INTEGER_DATATYPES],
                "description": "The model's own is in its metadata.",
            },
            "parameters": {"type": "object", "propertyNames": {"not": {"const": BINARY_DATA_SIZE}}},
            "data": {
                "type": "array",
                "items": {"oneOf": [number, row]},
                "minItems": 1,
                "maxItems": max_rows * features,
                "description": "rows x features values, flat in row-major order or nested as rows; it must fill "
                "the shape exactly.",
            },
        },
    }
    classification = {"type": "integer", "minimum": 1, "maximum": labels}
    output = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "enum": list(output_names)},
            "parameters": {"type": "object", "properties": {CLASSIFICATION: classification}},
        },
    }
    return {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "parameters": {"type": "object"},
            "inputs": {"type": "array", "items": tensor, "minItems": 1, "maxItems": 1},
            "outputs": {"type": "array", "items": output, "minItems": 1},
        },
    }


def _described(value: Any) -> str:
    if isinstance(value, list):
        return f"a list of {len(value)}" if value and all(isinstance(item, dict) for item in value) else "a list"
    return "nothing" if value is None else json_kind(value)


def parse_input(tensor: dict[str, Any], limits: InputLimits) -> np.ndarray:
    """The input tensor as an (n, features) float64 array; the features come from the model (its shape [-1, f])."""
    input_name = limits.name
    name, datatype, shape, data = (tensor.get(key) for key in ("name", "datatype", "shape", "data"))
    if name != input_name:
        raise InferenceRequestError(f"unknown input {_short(name)}: the model's one input is {input_name!r}")
    if BINARY_DATA_SIZE in _parameters_of(tensor, f"input {input_name!r}"):
        raise NotJsonError(f"input {input_name!r} is binary data ({BINARY_DATA_SIZE}); {SEND_JSON}")
    if not accepts(datatype):
        raise InferenceRequestError(
            f"input {input_name!r} has datatype {_short(datatype)}; send FP64 or FP32 (or FP16, INT8-64, UINT8-64)"
        )
    rows = _rows_of(shape, limits)
    if not isinstance(data, list):
        raise InferenceRequestError(f"input {input_name!r} data must be a list of numbers, got {json_kind(data)}")
    return decoded(data, datatype, rows, limits)


def _short(value: Any) -> str:
    return repr(value[:40]) if isinstance(value, str) else json_kind(value)


def _rows_of(shape: Any, limits: InputLimits) -> int:
    expected = f"[n, {limits.features}] with n from 1 to {limits.max_rows}"
    if not (isinstance(shape, list) and len(shape) == 2 and all(map(_is_whole, shape))):
        raise InferenceRequestError(f"input {limits.name!r} shape must be {expected}; got {_shape_text(shape)}")
    # A body holding NaN or Infinity is read by the fallback parser, which gives every number as a float.
    rows, features = (int(size) for size in shape)
    if features != limits.features or rows < 1:
        raise InferenceRequestError(f"input {limits.name!r} shape must be {expected}; got {shape}")
    if rows > limits.max_rows:
        raise BatchTooLargeError(
            f"input {limits.name!r} has {rows} rows; the limit is {limits.max_rows} rows per request"
        )
    return rows


def _is_whole(size: Any) -> bool:
    return type(size) is int or (type(size) is float and size.is_integer())


def _shape_text(shape: Any) -> str:
    return orjson.dumps(shape).decode()[:60] if isinstance(shape, list) else json_kind(shape)


def parse_outputs(outputs: Any, names: tuple[str, str]) -> dict[str, int | None]:
    """The outputs asked for, each with its classification count (None for the tensor itself)."""
    if not isinstance(outputs, list) or not outputs or not all(isinstance(output, dict) for output in outputs):
        raise InferenceRequestError("outputs must be a non-empty list of objects, each with a name")
    asked: dict[str, int | None] = {}
    expected = " or ".join(repr(name) for name in names)
    for output in outputs:
        name = output.get("name")
        if name not in names:
            raise InferenceRequestError(f"unknown output {_short(name)}: the model's outputs are {expected}")
        asked[name] = _classification(_parameters_of(output, f"output {name!r}"), name, names[0])
    return asked


def _parameters_of(holder: dict[str, Any], what: str) -> dict[str, Any]:
    """The parameters object of the request, an input or an output; the protocol has them an object of strings,
    numbers and booleans when present."""
    if "parameters" not in holder:
        return {}
    parameters = holder["parameters"]
    if not isinstance(parameters, dict):
        raise InferenceRequestError(f"the parameters of {what} must be an object, got {json_kind(parameters)}")
    for name, value in parameters.items():
        if type(value) not in PARAMETER_TYPES:
            raise InferenceRequestError(
                f"the parameters of {what} must be strings, numbers or booleans; {_short(name)} is {json_kind(value)}"
            )
    return parameters


def _classification(parameters: dict[str, Any], name: str, probabilities: str) -> int | None:
    if CLASSIFICATION not in parameters:
        return None
    count = parameters[CLASSIFICATION]
    if name != probabilities:
        raise InferenceRequestError(f"classification applies to output {probabilities!r}, not {name!r}")
    if type(count) is not int or count < 1:
        # A parameter's value is a string, a number or a boolean (_parameters_of): shown as sent.
        shown = orjson.dumps(count).decode()[:40]
        raise InferenceRequestError(
            f"classification must be a whole number from 1 to the number of labels; got {shown}"
        )
    return count
