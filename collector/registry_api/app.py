"""The HTTP edge of the registry: Starlette routes over `RegistryService`, served by uvicorn.

Starlette and uvicorn (with httptools' C parser) are a production ASGI stack: the standard
library's server answered about 4,000 trivial requests per second here. Every answer, error or
not, has the reference registry's content type, ``application/vnd.schemaregistry.v1+json``.
Basic authentication (one user, from ``[registry] serve_user`` / ``serve_password``) guards every
route when configured; ``--read-only`` refuses every write with 42205.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collector.registry_api.service import ApiError, RegistryService

__all__ = ["CONTENT_TYPE", "build_app"]

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"

Handler = Callable[[Request], Awaitable[Response]]


def _answer(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type=CONTENT_TYPE)


def _error(exc: ApiError) -> Response:
    return _answer(orjson.dumps(exc.body()), exc.status)


async def _json(request: Request) -> Any:
    raw = await request.body()
    try:
        return orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        raise ApiError(422, 42201, "Invalid schema: the request body is not JSON") from None


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() == "true"


class _FastReads:
    """Answers a GET whose encoded answer is cached without going through the router: the
    look-ups clients repeat most (``/schemas/ids/{id}``) cost one dict look-up."""

    def __init__(self, app: Starlette, service: RegistryService, expected: str | None) -> None:
        self.app = app
        self.service = service
        self.auth = None if expected is None else b"basic " + expected.encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            body = self.service.responses.get((scope["path"], scope["query_string"]))
            if body is not None and (self.auth is None or self._authorised(scope)):
                await send({"type": "http.response.start", "status": 200, "headers": [
                    (b"content-type", CONTENT_TYPE.encode()),
                    (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    def _authorised(self, scope: Any) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                return bool(self.auth) and hmac.compare_digest(
                    scheme.lower() + b" " + token, self.auth or b"")
        return False


def build_app(service: RegistryService, *, user: str | None = None,
              password: str | None = None) -> Any:
    """The ASGI app serving ``service`` (basic auth when ``user`` and ``password`` are set)."""
    expected = (base64.b64encode(f"{user}:{password}".encode()).decode()
                if user is not None and password is not None else None)
    return _FastReads(_routes(service, expected), service, expected)


def _remember(request: Request, body: bytes) -> Response:
    """A successful GET's answer, kept for `_FastReads`."""
    service: RegistryService = request.app.state.service
    service.responses[(request.url.path, request.scope["query_string"])] = body
    return _answer(body)


def _routes(service: RegistryService, expected: str | None) -> Starlette:

    def route(path: str, methods: list[str], fn: Callable[[Request], Any]) -> Route:
        async def endpoint(request: Request) -> Response:
            if expected is not None and not _authorised(request, expected):
                return Response(orjson.dumps({"error_code": 401, "message": "Unauthorized"}),
                                status_code=401, media_type=CONTENT_TYPE,
                                headers={"WWW-Authenticate": 'Basic realm="choreoscope"'})
            try:
                result = await fn(request)
            except ApiError as exc:
                return _error(exc)
            return result if isinstance(result, Response) else _answer(orjson.dumps(result))
        return Route(path, endpoint, methods=methods)

    s = service

    async def root(request: Request) -> Any:
        return {}

    async def subjects(request: Request) -> Response:
        deleted = _flag(request, "deleted")
        return _remember(request, s.cached(("subjects", deleted), lambda: s.subjects(deleted)))

    async def versions(request: Request) -> Response:
        subject, deleted = request.path_params["subject"], _flag(request, "deleted")
        return _remember(request, s.cached(("versions", subject, deleted),
                                           lambda: s.versions(subject, deleted)))

    async def register(request: Request) -> Any:
        return s.register(request.path_params["subject"], await _json(request))

    async def version(request: Request) -> Response:
        subject, v = request.path_params["subject"], request.path_params["version"]
        deleted = _flag(request, "deleted")
        return _remember(request, s.cached(("version", subject, v, deleted),
                                           lambda: s.version(subject, v, deleted)))

    async def version_schema(request: Request) -> Response:
        subject, v = request.path_params["subject"], request.path_params["version"]
        return _remember(request, s.cached(("version-schema", subject, v),
                                           lambda: orjson.loads(s.version(subject, v)["schema"])))

    async def delete_version(request: Request) -> Any:
        return s.delete_version(request.path_params["subject"], request.path_params["version"],
                                _flag(request, "permanent"))

    async def lookup(request: Request) -> Any:
        return s.lookup(request.path_params["subject"], await _json(request))

    async def delete_subject(request: Request) -> Any:
        return s.delete_subject(request.path_params["subject"], _flag(request, "permanent"))

    async def by_id(request: Request) -> Response:
        schema_id = _id(request)
        return _remember(request, s.cached(("id", schema_id),
                                           lambda: s.schema_by_id(schema_id)))

    async def id_schema(request: Request) -> Response:
        schema_id = _id(request)
        return _remember(request, s.cached(
            ("id-schema", schema_id), lambda: orjson.loads(s.schema_by_id(schema_id)["schema"])))

    async def id_versions(request: Request) -> Any:
        return s.id_versions(_id(request))

    async def compatibility(request: Request) -> Any:
        return s.compatibility(request.path_params["subject"],
                               request.path_params.get("version"), await _json(request),
                               _flag(request, "verbose"))

    async def config(request: Request) -> Any:
        subject = request.path_params.get("subject")
        if request.method == "PUT":
            return s.set_config(subject, await _json(request))
        if request.method == "DELETE" and subject is not None:
            return s.delete_config(subject)
        return s.config(subject, _flag(request, "defaultToGlobal"))

    async def schema_types(request: Request) -> Any:
        return ["JSON"]

    async def mode(request: Request) -> Any:
        subject = request.path_params.get("subject")
        if request.method == "PUT":
            return s.set_access(subject, await _json(request))
        return {"mode": s.access_of(subject)}

    app = Starlette(routes=[
        route("/", ["GET"], root),
        route("/schemas/types", ["GET"], schema_types),
        route("/subjects", ["GET"], subjects),
        route("/subjects/{subject}/versions", ["GET"], versions),
        route("/subjects/{subject}/versions", ["POST"], register),
        route("/subjects/{subject}/versions/{version}", ["GET"], version),
        route("/subjects/{subject}/versions/{version}", ["DELETE"], delete_version),
        route("/subjects/{subject}/versions/{version}/schema", ["GET"], version_schema),
        route("/subjects/{subject}", ["POST"], lookup),
        route("/subjects/{subject}", ["DELETE"], delete_subject),
        route("/schemas/ids/{id}", ["GET"], by_id),
        route("/schemas/ids/{id}/schema", ["GET"], id_schema),
        route("/schemas/ids/{id}/versions", ["GET"], id_versions),
        route("/compatibility/subjects/{subject}/versions", ["POST"], compatibility),
        route("/compatibility/subjects/{subject}/versions/{version}", ["POST"], compatibility),
        route("/config", ["GET", "PUT"], config),
        route("/config/{subject}", ["GET", "PUT", "DELETE"], config),
        route("/mode", ["GET", "PUT"], mode),
        route("/mode/{subject}", ["GET", "PUT"], mode),
    ])
    app.state.service = service
    return app


def _id(request: Request) -> int:
    try:
        return int(request.path_params["id"])
    except ValueError:
        raise ApiError(404, 40403, f"Schema {request.path_params['id']} not found") from None


def _authorised(request: Request, expected: str) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(token.encode(), expected.encode())
