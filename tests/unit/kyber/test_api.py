"""kyber.api's router knows nothing of the application: a face brings its routes, how its errors are written and
what a path it lacks is told; the router picks the face of the route, or of the prefix, or its own."""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from kyber.api import Api, Face, Routes, routes_text
from kyber.errors import CrystalBatchError
from kyber.responses import JsonResponse
from kyber.route_docs import Answer, RouteDoc
from scripts.harness.events import FakeLambdaContext


def face(name: str, prefix: str) -> Face:
    def error_body(message: str, details: Mapping[str, object]) -> dict[str, object]:
        return {name: message, **details}

    def not_found(path: str, routes: Routes) -> dict[str, object]:
        return {name: f"nothing at {path}; {routes_text(routes)}"}

    return Face(prefix=prefix, error_body=error_body, not_found=not_found)


OWN, OTHER, DEEPER = face("own", ""), face("other", "/other"), face("deeper", "/other/deeper")


def router() -> Api:
    app = Api(OWN)

    @app.post("/things")
    def refuse(_event: object) -> JsonResponse:
        raise CrystalBatchError("bad things", count=2)

    @app.get("/other/{name}", OTHER)
    def refuse_other(_event: object, name: str) -> JsonResponse:
        raise CrystalBatchError(f"bad {name}", count=1)

    return app


def nested_router() -> Api:
    """router(), with a face under OTHER's prefix, and a route of the router's own under OTHER's prefix too."""
    app = router()

    @app.get("/other/deeper/{name}", DEEPER)
    def refuse_deeper(_event: object, name: str) -> JsonResponse:
        raise CrystalBatchError(f"worse {name}", count=3)

    @app.post("/other/own")
    def refuse_own(_event: object) -> JsonResponse:
        raise CrystalBatchError("own things", count=4)

    return app


def answer(app: Api, method: str, path: str) -> tuple[int, dict[str, object]]:
    context: Any = FakeLambdaContext()
    response = app.resolve({"httpMethod": method, "path": path}, context)
    return response["statusCode"], json.loads(response["body"])


def test_each_route_answers_its_errors_in_its_faces_shape():
    app = router()
    assert answer(app, "POST", "/things") == (HTTPStatus.UNPROCESSABLE_ENTITY, {"own": "bad things", "count": 2})
    assert answer(app, "GET", "/other/x") == (HTTPStatus.UNPROCESSABLE_ENTITY, {"other": "bad x", "count": 1})
    assert answer(app, "PUT", "/other/x") == (
        HTTPStatus.METHOD_NOT_ALLOWED,
        {"other": "PUT is not allowed on /other/x; use GET"},
    )


def test_a_path_no_route_has_is_told_by_the_face_it_is_under_else_by_the_routers_own():
    app = router()
    assert answer(app, "GET", "/other/x/y") == (
        HTTPStatus.NOT_FOUND,
        {"other": "nothing at /other/x/y; GET /other/{name}"},
    )
    assert answer(app, "GET", "/elsewhere") == (HTTPStatus.NOT_FOUND, {"own": "nothing at /elsewhere; POST /things"})
    assert app.face_of("/other") is OTHER
    assert app.face_of("/otherwise") is OWN


def test_a_route_answers_in_its_own_faces_shape_under_another_faces_prefix_with_or_without_a_trailing_slash():
    app = nested_router()
    for path in ("/other/own", "/other/own/"):
        assert answer(app, "POST", path) == (HTTPStatus.UNPROCESSABLE_ENTITY, {"own": "own things", "count": 4})
        assert app.face_of(path) is OWN
    # and a path that only begins like the route is another path, under the prefix's face
    assert app.face_of("/other/ownX") is OTHER


def test_a_path_under_two_faces_prefixes_is_told_by_the_longer_prefixs_face():
    app = nested_router()
    assert answer(app, "GET", "/other/deeper/x/y")[1] == {
        "deeper": "nothing at /other/deeper/x/y; GET /other/deeper/{name}"
    }
    assert app.face_of("/other/deeper/x/y") is DEEPER
    assert app.face_of("/other/deeperst") is OTHER


def test_a_hint_names_each_method_with_its_paths_in_the_order_they_were_added():
    routes = {"/a": ["GET"], "/b": ["GET", "POST"], "/c": ["POST"]}
    assert routes_text(routes) == "GET /a, /b and POST /b, /c"
    assert routes_text({"/only": ["POST"]}) == "POST /only"


def test_a_face_is_told_only_its_own_routes_and_a_routes_description_is_built_when_asked_for():
    # Given a router whose /things route brings a description that counts how often it is built
    app = router()
    built: list[RouteDoc] = []

    def describe() -> RouteDoc:
        built.append(RouteDoc("things_put", "Things.", {HTTPStatus.OK: Answer("Done.", {"type": "object"})}))
        return built[-1]

    app.route("PUT", "/things", doc=describe)(lambda _event: JsonResponse(HTTPStatus.OK, "{}"))
    # Then each face's routes are its own, and the description is not built until the document asks for it
    assert app.routes_of(OWN) == {"/things": ["POST", "PUT"]}
    assert app.routes_of(OTHER) == {"/other/{name}": ["GET"]}
    assert not built
    assert list(app.docs["/things"]) == ["PUT"]
    assert app.docs["/things"]["PUT"]().operation_id == "things_put"
    assert len(built) == 1


def test_only_a_whole_braced_segment_is_a_parameter():
    # Given routes whose segments only begin or only end with a brace
    app = Api(OWN)
    for path in ("/half/{open", "/half/close}"):
        app.get(path)(lambda _event, path=path: JsonResponse(HTTPStatus.OK, json.dumps({"at": path})))
    # Then each answers its literal path alone
    assert answer(app, "GET", "/half/{open") == (HTTPStatus.OK, {"at": "/half/{open"})
    assert answer(app, "GET", "/half/close}") == (HTTPStatus.OK, {"at": "/half/close}"})
    assert answer(app, "GET", "/half/other")[0] == HTTPStatus.NOT_FOUND


def test_a_method_a_path_lacks_is_answered_405_naming_every_method_it_has():
    # Given /things answering POST and PUT
    app = router()
    app.route("PUT", "/things")(lambda _event: JsonResponse(HTTPStatus.OK, "{}"))
    # When it is asked with DELETE
    context: Any = FakeLambdaContext()
    response = app.resolve({"httpMethod": "DELETE", "path": "/things"}, context)
    # Then the answer names both methods, in its Allow header and its message
    assert response["statusCode"] == HTTPStatus.METHOD_NOT_ALLOWED
    assert response["multiValueHeaders"]["Allow"] == ["POST, PUT"]
    assert json.loads(response["body"]) == {"own": "DELETE is not allowed on /things; use POST or PUT"}
