"""The demo domain's event types: who produces each, on which topic, under which schema versions.

The JSON Schemas in ``schemas/events/<Type>/v<N>.json`` are the contracts; this table is what the
simulated services need to publish them (and a test keeps the two in agreement: title, ``x-topic``,
``x-owner``, ``x-domain``, versions). Types without schema versions are the undocumented ones the
``unknown-type`` fault emits; the ``orphan`` fault emits documented types that no service consumes.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "EVENT_TYPES",
    "NO_CORRELATION_TYPE",
    "ORPHAN_TYPES",
    "TOPICS",
    "UNKNOWN_TYPES",
    "EventType",
    "dataschema",
]

TOPICS = ("orders", "payments", "inventory", "shipping", "notifications", "customers")
"""One Kafka topic per business domain."""


@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    producer: str
    """The producing service: the CloudEvents ``source``."""
    topic: str
    owner: str
    """The team that owns the contract (the schema's ``x-owner``)."""
    versions: tuple[int, ...]
    """Schema versions side by side; empty for a type no schema knows."""
    subject_key: str
    """The data field whose value is the CloudEvents ``subject``."""
    bad_field: str = ""
    """The required field the ``bad-schema`` fault gives the wrong JSON type."""

    @property
    def domain(self) -> str:
        return self.topic


def _t(name: str, producer: str, topic: str, owner: str, versions: tuple[int, ...],
       subject_key: str, bad_field: str = "") -> EventType:
    return EventType(name, producer, topic, owner, versions, subject_key, bad_field)


_ALL = (
    # order flow
    _t("OrderPlaced", "order-service", "orders", "team-checkout", (1, 2), "order_id", "amount"),
    _t("PaymentProcessed", "payment-service", "payments", "team-payments", (1,), "order_id",
       "amount"),
    _t("PaymentFailed", "payment-service", "payments", "team-payments", (1,), "order_id",
       "amount"),
    _t("InventoryReserved", "inventory-service", "inventory", "team-fulfilment", (1,),
       "order_id", "reservation_id"),
    _t("InventoryOutOfStock", "inventory-service", "inventory", "team-fulfilment", (1,),
       "order_id", "missing_skus"),
    _t("RefundIssued", "payment-service", "payments", "team-payments", (1,), "order_id",
       "amount"),
    _t("ShippingScheduled", "shipping-service", "shipping", "team-fulfilment", (1,), "order_id",
       "estimated_delivery_days"),
    _t("OrderCompleted", "order-service", "orders", "team-checkout", (1,), "order_id", "amount"),
    # the notification service's event: joins flows by correlation id, not a step of any flow
    _t("CustomerNotified", "notification-service", "notifications", "team-engagement", (1,),
       "customer_id", "channel"),
    # onboarding flow
    _t("CustomerRegistered", "customer-service", "customers", "team-identity", (1,),
       "customer_id", "email"),
    _t("KycChecked", "kyc-service", "customers", "team-identity", (1,), "customer_id", "score"),
    _t("AccountOpened", "account-service", "customers", "team-identity", (1,), "customer_id",
       "account_id"),
    _t("KycRejected", "account-service", "customers", "team-identity", (1,), "customer_id",
       "reason"),
    # documented, but no service consumes them (the `orphan` fault)
    _t("OrderAudited", "order-service", "orders", "team-checkout", (1,), "order_id"),
    _t("CustomerAudited", "customer-service", "customers", "team-identity", (1,),
       "customer_id"),
    # known to no schema and no flow (the `unknown-type` fault)
    _t("OrderFraudScored", "fraud-service", "payments", "team-risk", (), "order_id"),
    _t("CustomerSegmentAssigned", "marketing-service", "customers", "team-growth", (),
       "customer_id"),
)

EVENT_TYPES: dict[str, EventType] = {t.name: t for t in _ALL}

ORPHAN_TYPES = {"order": "OrderAudited", "onboarding": "CustomerAudited"}
"""By flow type: the documented type nobody consumes that the ``orphan`` fault emits."""

UNKNOWN_TYPES = {"order": "OrderFraudScored", "onboarding": "CustomerSegmentAssigned"}
"""By flow type: the type no schema or flow knows that the ``unknown-type`` fault emits."""

NO_CORRELATION_TYPE = "CustomerNotified"
"""The ``no-correlation`` fault emits a valid event of this type without a correlation id."""


def dataschema(event_type: str, version: int) -> str:
    """The CloudEvents ``dataschema`` (and the schema's ``$id``) of one schema version."""
    return f"schemas/events/{event_type}/v{version}"
