"""scripts/deploy/smoke.py: the API and key read from a stack's outputs (moto), and the smoke cases run
over HTTP against a stand-in for API Gateway in front of the handlers, with and without a key."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from scripts.deploy.smoke import KEY_CASES, ApiUnderTest, StackOutputsError, api_of_stack, main, run_smoke
from scripts.project import routes
from tests.support.gateway import StandInGateway
from tests.support.service import TEST_ENVIRONMENT

REGION = TEST_ENVIRONMENT["AWS_DEFAULT_REGION"]
STACK = "kyber-crystal-classifier"
KEY = "k" * 40

StandIn = Callable[..., str]


@pytest.fixture
def stand_in_api(handler_module: Callable[[str], ModuleType]) -> Iterator[StandIn]:
    """Serves the handlers over HTTP as API Gateway would: a 403 without the key it is given, and
    a 500 from the routes named broken; returns the base URL."""
    handlers = {route: handler_module(route).lambda_handler for route in routes()}
    gateways: list[StandInGateway] = []

    def serve(key: str | None, broken: frozenset[str] = frozenset()) -> str:
        gateways.append(StandInGateway(handlers, key, broken))
        return gateways[-1].url

    yield serve
    for gateway in gateways:
        gateway.close()


def verdicts(results: list[Any]) -> dict[str, bool | None]:
    return {result.case: result.passed for result in results}


def test_every_case_passes_against_an_api_that_checks_its_key(stand_in_api: StandIn) -> None:
    results = run_smoke(ApiUnderTest(url=stand_in_api(KEY), key=KEY))
    assert verdicts(results) == {
        "POST /sklearn with the key": True,
        "POST /pytorch with the key": True,
        "POST /astromech with the key": True,
        "a request without the key is refused": True,
        "a request with a wrong key is refused": True,
    }


def test_the_key_cases_fail_against_an_api_that_lets_anyone_in(stand_in_api: StandIn) -> None:
    # Given a stack that says it has a key, in front of an API that checks none
    results = verdicts(run_smoke(ApiUnderTest(url=stand_in_api(None), key=KEY)))
    # Then the routes answer, and both key cases fail
    assert [results[case] for case in KEY_CASES] == [False, False]
    assert [passed for case, passed in results.items() if case not in KEY_CASES] == [True, True, True]


def test_the_key_cases_are_skipped_only_against_an_api_that_asks_for_no_key(stand_in_api: StandIn) -> None:
    results = run_smoke(ApiUnderTest(url=stand_in_api(None), key=None))
    assert verdicts(results) == {
        "POST /sklearn": True,
        "POST /pytorch": True,
        "POST /astromech": True,
        "a request without the key is refused": None,
        "a request with a wrong key is refused": None,
    }
    assert all("asks for no key" in result.detail for result in results if result.passed is None)


def test_a_route_answering_500_fails_its_case(stand_in_api: StandIn) -> None:
    results = verdicts(run_smoke(ApiUnderTest(url=stand_in_api(KEY, broken=frozenset({"pytorch"})), key=KEY)))
    assert [case for case, passed in results.items() if not passed] == ["POST /pytorch with the key"]


@pytest.fixture
def aws() -> Iterator[tuple[Any, Any]]:
    """CloudFormation and API Gateway clients on moto's in-memory AWS."""
    with mock_aws():
        yield boto3.client("cloudformation", region_name=REGION), boto3.client("apigateway", region_name=REGION)


def create_stack(cloudformation: Any, outputs: dict[str, str]) -> None:
    """A stack with the outputs given, as this project's template declares them."""
    template = {
        "Resources": {"Artifacts": {"Type": "AWS::S3::Bucket"}},
        "Outputs": {name: {"Value": value} for name, value in outputs.items()},
    }
    cloudformation.create_stack(StackName=STACK, TemplateBody=json.dumps(template))


def test_the_api_and_its_key_value_come_from_the_stacks_outputs(aws: tuple[Any, Any]) -> None:
    cloudformation, apigateway = aws
    key_id = apigateway.create_api_key(name="droids", enabled=True, value=KEY)["id"]
    url = "https://abc123.execute-api.eu-west-1.amazonaws.com/v1/"
    create_stack(cloudformation, {"KyberApiUrl": url, "KyberApiKeyId": key_id})
    assert api_of_stack(STACK, cloudformation, apigateway) == ApiUnderTest(url=url, key=KEY)


def test_a_stack_without_keys_gives_an_api_that_asks_for_none(aws: tuple[Any, Any]) -> None:
    cloudformation, apigateway = aws
    create_stack(cloudformation, {"KyberApiUrl": "https://abc123.example/v1/", "KyberApiKeyId": "none"})
    assert api_of_stack(STACK, cloudformation, apigateway).key is None


def test_a_stack_without_the_outputs_is_refused(aws: tuple[Any, Any]) -> None:
    cloudformation, apigateway = aws
    create_stack(cloudformation, {"KyberApiUrl": "https://abc123.example/v1/"})
    with pytest.raises(StackOutputsError, match="has no output KyberApiKeyId"):
        api_of_stack(STACK, cloudformation, apigateway)


@pytest.mark.parametrize(("broken", "status"), [(frozenset(), 0), (frozenset({"astromech"}), 1)])
def test_make_smoke_runs_the_cases_against_the_stacks_api_and_exits_1_on_a_failure(
    aws: tuple[Any, Any], stand_in_api: StandIn, capsys: pytest.CaptureFixture[str], broken: frozenset[str], status: int
) -> None:
    # Given a stack whose outputs name the stand-in API and its key
    cloudformation, apigateway = aws
    key_id = apigateway.create_api_key(name="droids", enabled=True, value=KEY)["id"]
    url = stand_in_api(KEY, broken=broken)
    create_stack(cloudformation, {"KyberApiUrl": url, "KyberApiKeyId": key_id})
    # When `make smoke STACK=...` runs
    exit_status = main(["--stack", STACK, "--region", REGION])
    # Then it prints a line per case, and fails when one fails
    # (the stand-in's handlers write their logs to the same stdout)
    output = capsys.readouterr().out.splitlines()
    assert f"smoke cases against {url}" in output
    verdicts = [line.split()[0] for line in output if line.split()[0] in {"ok", "FAILED", "skipped"}]
    assert len(verdicts) == len(routes()) + len(KEY_CASES)
    assert verdicts.count("FAILED") == len(broken)
    assert exit_status == status


def test_make_smoke_names_a_stack_it_cannot_read(aws: tuple[Any, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stack", "no-such-stack", "--region", REGION]) == 2
    assert "cannot read the API of stack no-such-stack" in capsys.readouterr().err
