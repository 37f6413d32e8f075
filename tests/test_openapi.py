"""Schemathesis against the live server's own OpenAPI document (`/openapi.json`).

Every HTTP operation the document describes (health, readiness, metrics, the protocol, the
SSE chat stream, the tool API; /mcp, the widget and the WebSocket are not in it) gets
generated requests, sent with a valid API key to a real server over one small real index.
The checks are schemathesis' own: no 5xx, and status codes, content types, headers and
bodies as the document says (which includes the 401, 413, 429 and 503 the access layer
adds to it). One test per operation, listed from the app's document at collection (the
app is built, not started); schemathesis' lazy pytest loader does not run on pytest 9.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from assistant.server.app import create_app
from assistant.server.settings import ServerSettings
from tests.ops_server import running, services_factory, shared_backend

pytestmark = pytest.mark.model

KEY = "openapi-key-0123456789abcdef"
SERVER = ServerSettings(api_keys={KEY}, rate_limit={"per_minute": 0})
EXAMPLES = 40  # per operation
OPERATIONS = [(method.upper(), path) for path, item in create_app(server=SERVER).openapi()["paths"].items() for method in item]


@pytest.fixture(scope="module")
def live(tmp_path_factory, kagl_csv):
    backend = shared_backend(tmp_path_factory.mktemp("openapi-backend"), kagl_csv)
    with running(services_factory(backend, tmp_path_factory.mktemp("openapi") / "sessions.db"), SERVER) as srv:
        yield srv


@pytest.fixture(scope="module")
def api_schema(live):
    # A request the schema allows may still be refused for what it means (a chat with no user
    # message, a photo that is not one, a tool's arguments that name nothing): 422, documented.
    accepted = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
    config = schemathesis.Config.from_dict({"checks": {"positive_data_acceptance": {"expected-statuses": accepted}}})
    return schemathesis.openapi.from_url(f"{live.url}/openapi.json", config=config)


def test_the_document_lists_the_http_api():
    assert {("GET", "/healthz"), ("GET", "/metrics"), ("POST", "/v1/chat/stream"), ("POST", "/v1/tools/{name}")} <= set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_operation_answers_as_documented(api_schema, live, method, path):
    operation = api_schema[path][method]

    @given(case=operation.as_strategy() | operation.as_strategy(GenerationMode.NEGATIVE))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    def check(case):
        case.call_and_validate(base_url=live.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60)

    check()
