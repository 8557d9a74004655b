"""The test session's RabbitMQ node and NATS server (JetStream on): real servers from Debian's
packages, started once on first use on free local ports and stopped at the end; their logs are
shown when a test using them fails. If one cannot start, its tests fail; nothing is skipped."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest

from tests.brokers._servers import NatsServer, RabbitNode, ServerError

_STARTED: dict[str, RabbitNode | NatsServer] = {}


@pytest.fixture(scope="session")
def rabbitmq_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitNode]:
    node = RabbitNode(tmp_path_factory.mktemp("rabbitmq"))
    _STARTED["rabbitmq_node"] = node
    try:
        node.start()
    except ServerError as exc:
        pytest.fail(f"the test session's RabbitMQ node did not start: {exc}", pytrace=False)
    yield node
    node.stop()


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path_factory.mktemp("nats"))
    _STARTED["nats_server"] = server
    try:
        server.start()
    except ServerError as exc:
        pytest.fail(f"the test session's NATS server did not start: {exc}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def name(request: pytest.FixtureRequest) -> str:
    """A name (exchange, group, subject part) no other test uses."""
    base = re.sub(r"[^A-Za-z0-9_-]", "-", request.node.name)[:40]
    return f"{base}-{uuid.uuid4().hex[:8]}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    for fixture, server in _STARTED.items():
        if fixture in getattr(item, "fixturenames", ()):
            report.sections.append((f"{fixture} log (tail)", server.log_tail(100)))
