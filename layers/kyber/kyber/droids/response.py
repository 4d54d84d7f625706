"""A droid's answer: a prediction as the 200 the droids read, every row's most probable label and every label's
score (kyber.scores_json writes the text, as a data-capture record writes a challenger's output), with the headers
that say which model scored it; and the JSON Schema of its body."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from kyber.core import Prediction
from kyber.responses import MODEL_HEADER, MODEL_VERSION_HEADER, JsonResponse
from kyber.scores_json import prediction_json


def prediction_response(prediction: Prediction) -> JsonResponse:
    model = prediction.model
    answer = prediction_json(model.labels, prediction.probabilities, prediction.top)
    return JsonResponse(HTTPStatus.OK, answer, {MODEL_HEADER: model.name, MODEL_VERSION_HEADER: model.version})


def prediction_schema(labels: tuple[str, ...]) -> dict[str, Any]:
    """The JSON Schema of prediction_response's body, for the API's description."""
    score = {"type": "number", "minimum": 0, "maximum": 1}
    return {
        "type": "object",
        "required": ["prediction", "scores"],
        "properties": {
            "prediction": {
                "type": "array",
                "items": {"type": "string"},
                "description": "The label with the highest score, one per row, in request order.",
            },
            "scores": {
                "type": "array",
                "items": {"type": "object", "additionalProperties": score},
                "description": f"Every label's score, one object per row; labels come from the models' labels "
                f"file (the default models: {', '.join(labels)}).",
            },
        },
    }
