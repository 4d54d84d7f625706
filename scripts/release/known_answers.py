"""What each route must answer its sample request once a release serves it: computed from the release's own ONNX
files with ONNX Runtime, over the rows of the sample events the smoke check sends, never typed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort

from kyber.manifest import read_manifest, session_options, verified_file
from scripts.deploy.smoke import KnownAnswer
from scripts.harness.events import single_row_event
from scripts.project import routes


class KnownAnswerError(RuntimeError):
    """A sample event names a model the release does not have."""


def known_answers(models_dir: Path) -> dict[str, KnownAnswer]:
    """Per route, the answer the release in models_dir gives its sample request: a route named after a model is
    answered by it, /astromech by the model its request names."""
    manifest = read_manifest(models_dir)
    answers = {}
    for route in routes():
        body = json.loads(single_row_event(route)["body"])
        model = route if route in manifest.models else body.get("model")
        if model not in manifest.models:
            raise KnownAnswerError(f"the release has no model {model!r} for POST /{route}'s sample event")
        entry = manifest.models[model]
        session = ort.InferenceSession(
            str(verified_file(models_dir, entry.artifact)),
            sess_options=session_options(),
            providers=["CPUExecutionProvider"],
        )
        rows = np.asarray(body["crystalData"], dtype=entry.input_dtype)
        (scores,) = session.run([entry.probabilities_output], {entry.input_name: rows})
        scores = np.asarray(scores, dtype=np.float64)
        answers[route] = KnownAnswer(
            model=model,
            prediction=tuple(manifest.labels[index] for index in scores.argmax(axis=1)),
            scores=tuple(dict(zip(manifest.labels, map(float, row), strict=True)) for row in scores),
            tolerance=entry.parity.tolerance,
        )
    return answers
