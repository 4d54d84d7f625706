"""The smoke cases of the contract, run against a running API: every route answers its sample
request, and when the API asks for a key, a request without it or with a wrong one is refused.

    python -m scripts.deploy.smoke --stack kyber-crystal-classifier   # URL and key from the stack
    python -m scripts.deploy.smoke --url http://127.0.0.1:3000        # an API that asks for no key

Exits 1 when a case fails. `make release` and `make rollback` also give each route the answer it must give (its
predictions, and its scores within the export's precision), computed from the release's own ONNX files.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from scripts.harness.events import single_row_event
from scripts.project import routes

# The stack's outputs (template.yaml) that say where the API is and which key it checks.
URL_OUTPUT = "KyberApiUrl"
KEY_ID_OUTPUT = "KyberApiKeyId"
NO_KEY = "none"
KEY_CASES = ("a request without the key is refused", "a request with a wrong key is refused")
TIMEOUT_S = 30


class StackOutputsError(RuntimeError):
    """The stack lacks an output the smoke run needs."""


@dataclass(frozen=True)
class ApiUnderTest:
    url: str
    # The key the API checks in x-api-key; None when it asks for none (sam local, ApiKeyRequired=false).
    key: str | None


@dataclass(frozen=True)
class KnownAnswer:
    """What a route must answer its sample request: the model that answers it, its prediction per row, and its
    scores per row, each within tolerance (the export's precision bound) of these."""

    model: str
    prediction: tuple[str, ...]
    scores: tuple[dict[str, float], ...]
    tolerance: float

    def difference(self, answer: Any) -> str | None:
        """What differs between answer (a 200 body) and this; None when nothing does."""
        if answer.get("prediction") != list(self.prediction):
            expected = list(self.prediction)
            return f"predicted {answer.get('prediction')}, the release's {self.model} model predicts {expected}"
        scores = answer.get("scores")
        if not isinstance(scores, list) or [sorted(row) for row in scores] != [sorted(row) for row in self.scores]:
            return f"scores {json.dumps(scores)[:120]} do not name the release's labels"
        worst = max(
            abs(row[label] - known[label]) for row, known in zip(scores, self.scores, strict=True) for label in known
        )
        if not worst <= self.tolerance:
            return f"a score is {worst:.3g} from the release's {self.model} model (bound {self.tolerance:.3g})"
        return None


@dataclass(frozen=True)
class CaseResult:
    case: str
    # None: not run, as the API asks for no key.
    passed: bool | None
    detail: str

    def line(self) -> str:
        verdict = {True: "ok", False: "FAILED", None: "skipped"}[self.passed]
        return f"{verdict:8} {self.case}: {self.detail}"


def api_of_stack(stack_name: str, cloudformation: Any, apigateway: Any) -> ApiUnderTest:
    """The API a deployed stack serves: its URL, and the value of its key, from the stack's outputs."""
    (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    missing = [name for name in (URL_OUTPUT, KEY_ID_OUTPUT) if name not in outputs]
    if missing:
        raise StackOutputsError(f"stack {stack_name} has no output {' or '.join(missing)}: is it this project's?")
    key_id = outputs[KEY_ID_OUTPUT]
    key = None if key_id == NO_KEY else apigateway.get_api_key(apiKey=key_id, includeValue=True)["value"]
    return ApiUnderTest(url=outputs[URL_OUTPUT], key=key)


def post(url: str, body: str, key: str | None) -> tuple[int, Any]:
    """POST body as JSON with x-api-key when a key is given: the status and the parsed body."""
    request = urllib.request.Request(url, data=body.encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    if key is not None:
        request.add_header("x-api-key", key)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def route_case(api: ApiUnderTest, route: str, known: KnownAnswer | None = None) -> CaseResult:
    body = single_row_event(route)["body"]
    rows = len(json.loads(body)["crystalData"])
    status, answer = post(f"{api.url.rstrip('/')}/{route}", body, api.key)
    case = f"POST /{route}" + (" with the key" if api.key is not None else "")
    predictions = answer.get("prediction") if isinstance(answer, dict) else None
    passed = status == HTTPStatus.OK and isinstance(predictions, list) and len(predictions) == rows
    detail = f"{status} {json.dumps(answer)[:200]}"
    if passed and known is not None:
        difference = known.difference(answer)
        passed, detail = difference is None, difference or f"{status}, the release's {known.model} answer: {detail}"
    return CaseResult(case, passed, detail)


def refused_case(api: ApiUnderTest, case: str, key: str | None) -> CaseResult:
    route = routes()[0]
    status, answer = post(f"{api.url.rstrip('/')}/{route}", single_row_event(route)["body"], key)
    return CaseResult(case, status == HTTPStatus.FORBIDDEN, f"POST /{route}: {status} {json.dumps(answer)[:200]}")


def run_smoke(api: ApiUnderTest, known: Mapping[str, KnownAnswer] | None = None) -> list[CaseResult]:
    """Every route's sample request (its answer compared with known's for the route, when given), then the key
    cases, which run only against an API asking for a key."""
    results = [route_case(api, route, (known or {}).get(route)) for route in routes()]
    if api.key is None:
        reason = "the API asks for no key (sam local start-api, or a stack with ApiKeyRequired=false)"
        return results + [CaseResult(case, None, reason) for case in KEY_CASES]
    without_key, wrong_key = KEY_CASES
    return [*results, refused_case(api, without_key, None), refused_case(api, wrong_key, api.key + "-not-it")]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--stack", help="a deployed stack of this template: its URL and key come from its outputs")
    target.add_argument("--url", help="the API's base URL, e.g. http://127.0.0.1:3000")
    parser.add_argument("--key", help="with --url: the key the API checks (x-api-key)")
    parser.add_argument("--region", help="the stack's region (default: the AWS configuration's)")
    arguments = parser.parse_args(argv)
    if arguments.stack:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        session = boto3.Session(region_name=arguments.region)
        try:
            api = api_of_stack(arguments.stack, session.client("cloudformation"), session.client("apigateway"))
        except (StackOutputsError, BotoCoreError, ClientError) as error:
            print(f"cannot read the API of stack {arguments.stack}: {error}", file=sys.stderr)
            return 2
    else:
        api = ApiUnderTest(url=arguments.url, key=arguments.key)
    print(f"smoke cases against {api.url}")
    results = run_smoke(api)
    for result in results:
        print(result.line())
    return 1 if any(result.passed is False for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
