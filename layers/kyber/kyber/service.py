"""What each endpoint does: parse the request, run the model, build the answer."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.api_gateway import BaseProxyEvent
from aws_lambda_powertools.metrics import Metrics, MetricUnit

from kyber.registry import CrystalModel, ModelRegistry, get_registry
from kyber.responses import prediction_body
from kyber.settings import get_settings
from kyber.validation import parse_crystal_batch, parse_json_body, parse_model_choice, require_object

logger = Logger(child=True)
metrics = Metrics()


def load_model(name: str) -> CrystalModel:
    """The named model of this execution environment's registry, loaded on first call."""
    return get_registry().get(name)


def _request_object(event: BaseProxyEvent) -> dict[str, Any]:
    return require_object(parse_json_body(event.body, is_base64_encoded=bool(event.is_base64_encoded)))


def _classify_payload(payload: dict[str, Any], model: CrystalModel, feature_count: int) -> dict[str, Any]:
    batch = parse_crystal_batch(payload, feature_count=feature_count, max_rows=get_settings().max_rows)
    scores = model.predict_proba(batch)
    metrics.add_metric(name="CrystalsClassified", unit=MetricUnit.Count, value=len(batch))
    logger.info("crystals classified", model=model.name, rows=len(batch))
    return prediction_body(model.labels, scores)


def classify(event: BaseProxyEvent, model: CrystalModel) -> dict[str, Any]:
    """POST /sklearn and /pytorch: classify crystalData with the endpoint's own model."""
    return _classify_payload(_request_object(event), model, get_registry().feature_count)


def classify_with_chosen_model(event: BaseProxyEvent, registry: ModelRegistry) -> dict[str, Any]:
    """POST /astromech: the body's "model" picks the model; it is checked before the data."""
    payload = _request_object(event)
    name = parse_model_choice(payload, registry.names)
    return _classify_payload(payload, registry.get(name), registry.feature_count)
