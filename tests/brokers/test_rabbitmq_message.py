"""A RabbitMQ delivery as an observation: AMQP properties, headers and CloudEvents' AMQP binding
feed the envelope rules; the stable identity that keys a redelivered message."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from collector.envelope import Decoder, build_rules
from collector.model import DeadLetter, Event
from collector.rabbitmq._message import AmqpProperties, identity, observation_of
from collector.settings import Settings

AT = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def _decode(props: AmqpProperties, body: bytes) -> Event | DeadLetter:
    return Decoder(build_rules(Settings()))(observation_of("orders", "order.placed", props,
                                                          body, AT))


def test_cloudevents_amqp_binary_mode_decodes_like_kafka_binary_mode() -> None:
    props = AmqpProperties(content_type="application/json", headers={
        "cloudEvents:specversion": "1.0", "cloudEvents:id": "e-1",
        "cloudEvents:source": "order-service", "cloudEvents:type": "OrderPlaced",
        "cloudEvents:time": "2026-01-05T08:00:00Z", "cloudEvents_correlationid": "c-1"})
    event = _decode(props, orjson.dumps({"order_id": "O-1"}))
    assert isinstance(event, Event)
    assert (event.id, event.type, event.source, event.correlation_id) == (
        "e-1", "OrderPlaced", "order-service", "c-1")
    assert event.data == {"order_id": "O-1"}
    assert event.location.topic == "rabbitmq:orders/order.placed"


def test_the_correlation_id_property_correlates_a_structured_event() -> None:
    doc = {"specversion": "1.0", "id": "e-2", "source": "s", "type": "OrderPlaced",
           "time": "2026-01-05T08:00:00Z", "data": {}}
    event = _decode(AmqpProperties(correlation_id="c-2", message_id="m-2", app_id="shop"),
                    orjson.dumps(doc))
    assert isinstance(event, Event)
    assert event.correlation_id == "c-2"
    assert ("amqp-message-id", "m-2") in event.headers
    assert ("amqp-app-id", "shop") in event.headers


def test_identity_is_the_message_id_when_set_else_the_content() -> None:
    a = AmqpProperties(message_id="m-1", timestamp=1)
    assert identity("x", "k", a, b"one") == identity("y", "j", AmqpProperties("m-1"), b"two")
    plain = AmqpProperties(headers={"h": "v"}, timestamp=5)
    assert identity("x", "k", plain, b"body") == identity("x", "k", plain, b"body")
    assert identity("x", "k", plain, b"body") != identity("x", "k2", plain, b"body")
    assert identity("x", "k", plain, b"body") != identity("x", "k", plain, b"bodY")
    assert 0 <= identity("x", "k", plain, b"body") < 2**63


def test_a_poison_message_is_a_dead_letter_at_its_identity() -> None:
    props = AmqpProperties(message_id="poison-1")
    letter = _decode(props, b"\xff\xfe not json")
    assert isinstance(letter, DeadLetter)
    assert letter.reason == "not-utf8"
    assert letter.location.offset == identity("orders", "order.placed", props,
                                              b"\xff\xfe not json")


def test_a_taps_figures_are_health_samples_and_prometheus_gauges() -> None:
    from prometheus_client import generate_latest

    from collector.kafka.health import Health
    from collector.pipeline import PipelineStats

    health = Health(monotonic=lambda: 1.0)
    samples = health.sample(PipelineStats(), {("choreoscope.tap.g", 1): 7}, True, AT,
                            figures={"rabbitmq_dropped": 12.0, "rabbitmq_queue_depth": 7.0,
                                     "rabbitmq_published_per_s:orders": 2.5})
    assert ("tap", {"figure": "rabbitmq_dropped"}, 12.0, AT) in samples
    assert ("tap", {"figure": "rabbitmq_published_per_s:orders"}, 2.5, AT) in samples
    text = generate_latest(health.registry)
    assert b'choreoscope_tap{figure="rabbitmq_dropped"} 12.0' in text
    assert b'choreoscope_tap{figure="rabbitmq_published_per_s:orders"} 2.5' in text
