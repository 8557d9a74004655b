"""Fixtures: a real store, the OTLP service on a free port, and real OpenTelemetry SDK tracers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter

from collector.otlp.receiver import OtlpService
from collector.settings import OtlpSettings
from collector.store.base import Store, open_store


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    yield opened
    opened.close()


@pytest.fixture
def start_service(store: Store) -> Iterator[Callable[..., OtlpService]]:
    started: list[OtlpService] = []

    def start(**settings: Any) -> OtlpService:
        service = OtlpService(OtlpSettings(**{"port": 0, "grpc_port": 0, **settings}),
                              store).start()
        started.append(service)
        return service

    yield start
    for service in started:
        service.close()


@pytest.fixture
def service(start_service: Callable[..., OtlpService]) -> OtlpService:
    return start_service()


@pytest.fixture
def make_tracer_provider() -> Iterator[Callable[[str, SpanExporter], TracerProvider]]:
    providers: list[TracerProvider] = []

    def make(service_name: str, exporter: SpanExporter) -> TracerProvider:
        provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        providers.append(provider)
        return provider

    yield make
    for provider in providers:
        provider.shutdown()


def stored_spans(store: Store) -> list[dict[str, Any]]:
    return store.query("SELECT * FROM spans ORDER BY start_at, span_id")


@pytest.fixture
def kafka_bootstrap(kafka: Any) -> str:
    """The test session's Kafka broker (``tests/conftest.py``), running."""
    return str(kafka.bootstrap)
