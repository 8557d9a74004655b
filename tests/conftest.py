"""The test session's services. Apache Kafka: one real KRaft broker, started once on first use
and shared by every test that needs it (tests/kafka, tests/otlp, tests/simulator, ...); its log
is shown when such a test fails.

The broker comes from ``scripts/kafka.py`` (``make test`` runs its ``fetch`` first). If it cannot
start, every test that needs it fails with the broker's log; nothing is skipped. Tests share the
broker, so each uses topics (or a consumer group and stored positions) of its own.

PostgreSQL: one server from Debian's packages (``scripts/postgres.py``; ``make test`` installs
it), started on first use in a temporary folder on a free 127.0.0.1 port and stopped at the end;
each test using ``postgres_url`` gets a new, empty database. If it cannot start, those tests fail.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
SCRIPT = SCRIPTS / "kafka.py"


def _load_script(path: Path = SCRIPT, name: str = "choreoscope_kafka_script") -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


kafka_script = _load_script()
postgres_script = _load_script(SCRIPTS / "postgres.py", "choreoscope_postgres_script")
SASL_USERS = {"collector": "c0llect0r-secret"}
"""Users of the broker's SASL_PLAINTEXT listener (``kafka.sasl_bootstrap``)."""
_BROKERS: list[Any] = []
"""The session broker once started (for the failure report)."""


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A running broker (``bootstrap``, ``restart()``, ``stop()``, ``start()``, ``log_tail()``)."""
    try:
        libs = kafka_script.fetch()
        broker = kafka_script.KafkaBroker(libs, workdir=tmp_path_factory.mktemp("kafka"),
                                          partitions=3, sasl_users=SASL_USERS)
        _BROKERS.append(broker)
        broker.start()
    except kafka_script.BrokerError as exc:
        pytest.fail(f"the test session's Kafka broker did not start: {exc}", pytrace=False)
    yield broker
    broker.close()


@pytest.fixture
def kafka(kafka_broker: Any) -> Any:
    """The session broker, started again if an earlier test left it stopped."""
    if not kafka_broker.running:
        kafka_broker.start()
    return kafka_broker


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """A running PostgreSQL server (``url(db)``, ``create_database(name)``, ``log_tail()``)."""
    server = postgres_script.PostgresServer()
    try:
        server.start()
    except postgres_script.PostgresError as exc:
        server.close()
        pytest.fail(f"the test session's PostgreSQL did not start: {exc}", pytrace=False)
    yield server
    server.close()


_DATABASES = iter(range(1, 1_000_000))


@pytest.fixture
def postgres_url(postgres_server: Any) -> str:
    """The URL of a new, empty database on the session's PostgreSQL server."""
    return str(postgres_server.create_database(f"test_{next(_DATABASES)}"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed and _BROKERS and "kafka_broker" in getattr(item, "fixturenames", ()):
        report.sections.append(("Kafka broker log (tail)", _BROKERS[0].log_tail(150)))
