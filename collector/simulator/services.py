"""The demo domain's services: independent handlers reacting to each other's events.

Choreography, not a script: each service subscribes to event types and, when one arrives, decides
on its own (with the flow's random source) what to publish and after how long. Nobody knows the
whole flow; the order flow and the onboarding flow emerge from these reactions. A service keeps
only what it learned from earlier events (the order service remembers its orders, the payment
service its payments), the way a real one keeps a table.

Handlers are pure apart from that state: ``react(event_type, data, rng)`` returns `Emission`s;
the scheduler (`collector.simulator.engine`) stamps ids, times and envelopes and delivers them.
Normal reaction times stay well inside every step deadline of ``schemas/flows``; only the
``slow`` fault makes a step late.
"""

from __future__ import annotations

from collections.abc import Callable
from random import Random
from typing import Any, ClassVar, NamedTuple

__all__ = ["SERVICES", "Emission", "Service", "build_services"]

Data = dict[str, Any]


class Emission(NamedTuple):
    """An event a service publishes ``delay_us`` microseconds after the event it reacts to."""

    delay_us: int
    type: str
    data: Data
    version: int = 1


def _delay(rng: Random, low_ms: int, high_ms: int) -> int:
    """A reaction time in microseconds, uniform in [low_ms, high_ms)."""
    return low_ms * 1000 + int(rng.random() * (high_ms - low_ms) * 1000)


def _ref(rng: Random, prefix: str, bits: int = 40) -> str:
    return f"{prefix}-{rng.getrandbits(bits):0{bits // 4}x}"


_SKUS = tuple(f"SKU-{i:04d}" for i in range(1, 501))
_PRICES = {sku: round(4.99 + (i * 37) % 200 + 0.5 * (i % 2), 2) for i, sku in enumerate(_SKUS)}
_CURRENCIES = ("EUR", "EUR", "EUR", "USD", "GBP")
_CHANNELS = ("email", "email", "sms", "push")
_COUNTRIES = ("DE", "FR", "NL", "ES", "IT", "GB", "US", "PL")


class Service:
    """A service: what it consumes, what it produces, and how it reacts."""

    name: ClassVar[str]
    consumes: ClassVar[frozenset[str]] = frozenset()
    produces: ClassVar[frozenset[str]] = frozenset()

    def __init__(self) -> None:
        self._handlers: dict[str, Callable[[Data, Random], list[Emission]]] = {
            t: getattr(self, f"on_{t}") for t in self.consumes if hasattr(self, f"on_{t}")}

    def react(self, event_type: str, data: Data, rng: Random) -> list[Emission]:
        return self._handlers[event_type](data, rng)


class OrderService(Service):
    """Takes orders (starts the order flow) and completes them once shipping is scheduled."""

    name = "order-service"
    consumes = frozenset({"ShippingScheduled", "PaymentFailed", "RefundIssued"})
    produces = frozenset({"OrderPlaced", "OrderCompleted", "OrderAudited"})

    def __init__(self) -> None:
        super().__init__()
        self._orders: dict[str, tuple[str, float, str]] = {}

    def place(self, rng: Random) -> Emission:
        order_id = _ref(rng, "ORD")
        customer_id = f"CUS-{rng.randrange(1, 50_000):06d}"
        items: list[dict[str, Any]] = []
        for _ in range(1 + int(rng.random() * 3)):
            sku = _SKUS[int(rng.random() * len(_SKUS))]
            items.append({"sku": sku, "quantity": 1 + int(rng.random() * 3),
                          "unit_price": _PRICES[sku]})
        amount = round(sum(i["quantity"] * i["unit_price"] for i in items), 2)
        currency = _CURRENCIES[int(rng.random() * len(_CURRENCIES))]
        self._orders[order_id] = (customer_id, amount, currency)
        data: Data = {"order_id": order_id, "customer_id": customer_id, "items": items,
                      "amount": amount, "currency": currency}
        if rng.random() < 0.3:  # the new checkout publishes v2 (an optional sales channel)
            data["channel"] = ("web", "mobile", "store")[int(rng.random() * 3)]
            return Emission(0, "OrderPlaced", data, 2)
        return Emission(0, "OrderPlaced", data)

    def on_ShippingScheduled(self, data: Data, rng: Random) -> list[Emission]:
        customer_id, amount, currency = self._orders.pop(data["order_id"])
        return [Emission(_delay(rng, 200, 2500), "OrderCompleted", {
            "order_id": data["order_id"], "customer_id": customer_id, "amount": amount,
            "currency": currency, "shipment_id": data["shipment_id"]})]

    def on_PaymentFailed(self, data: Data, rng: Random) -> list[Emission]:
        self._orders.pop(data["order_id"], None)
        return []

    def on_RefundIssued(self, data: Data, rng: Random) -> list[Emission]:
        self._orders.pop(data["order_id"], None)
        return []


class PaymentService(Service):
    """Charges placed orders, and refunds them when inventory cannot serve them."""

    name = "payment-service"
    consumes = frozenset({"OrderPlaced", "InventoryOutOfStock", "OrderCompleted"})
    produces = frozenset({"PaymentProcessed", "PaymentFailed", "RefundIssued"})

    def __init__(self) -> None:
        super().__init__()
        self._payments: dict[str, tuple[str, float, str]] = {}

    def on_OrderPlaced(self, data: Data, rng: Random) -> list[Emission]:
        order_id, amount, currency = data["order_id"], data["amount"], data["currency"]
        common = {"order_id": order_id, "customer_id": data["customer_id"],
                  "amount": amount, "currency": currency}
        delay = _delay(rng, 300, 3000)
        if rng.random() < 0.1:
            reason = ("card_declined", "insufficient_funds", "fraud_suspected")[
                int(rng.random() * 3)]
            return [Emission(delay, "PaymentFailed", {**common, "reason": reason})]
        payment_id = _ref(rng, "PAY")
        self._payments[order_id] = (payment_id, amount, currency)
        method = ("card", "card", "paypal", "invoice")[int(rng.random() * 4)]
        return [Emission(delay, "PaymentProcessed",
                         {**common, "payment_id": payment_id, "method": method})]

    def on_InventoryOutOfStock(self, data: Data, rng: Random) -> list[Emission]:
        payment_id, amount, currency = self._payments.pop(data["order_id"])
        return [Emission(_delay(rng, 500, 4000), "RefundIssued", {
            "order_id": data["order_id"], "customer_id": data["customer_id"],
            "refund_id": _ref(rng, "REF"), "payment_id": payment_id, "amount": amount,
            "currency": currency, "reason": "out_of_stock"})]

    def on_OrderCompleted(self, data: Data, rng: Random) -> list[Emission]:
        self._payments.pop(data["order_id"], None)  # captured: nothing left to refund
        return []


class InventoryService(Service):
    """Remembers what was ordered; reserves it once paid, or reports it out of stock."""

    name = "inventory-service"
    consumes = frozenset({"OrderPlaced", "PaymentProcessed"})
    produces = frozenset({"InventoryReserved", "InventoryOutOfStock"})

    def __init__(self) -> None:
        super().__init__()
        self._items: dict[str, list[dict[str, Any]]] = {}

    def on_OrderPlaced(self, data: Data, rng: Random) -> list[Emission]:
        self._items[data["order_id"]] = [
            {"sku": i["sku"], "quantity": i["quantity"]} for i in data["items"]]
        return []

    def on_PaymentProcessed(self, data: Data, rng: Random) -> list[Emission]:
        items = self._items.pop(data["order_id"])
        common = {"order_id": data["order_id"], "customer_id": data["customer_id"]}
        delay = _delay(rng, 100, 2000)
        if rng.random() < 0.08:
            return [Emission(delay, "InventoryOutOfStock",
                             {**common, "missing_skus": [items[0]["sku"]]})]
        warehouse = ("FRA-1", "AMS-2", "MAD-1")[int(rng.random() * 3)]
        return [Emission(delay, "InventoryReserved", {
            **common, "reservation_id": _ref(rng, "RSV"), "warehouse": warehouse,
            "items": items})]


class ShippingService(Service):
    name = "shipping-service"
    consumes = frozenset({"InventoryReserved"})
    produces = frozenset({"ShippingScheduled"})

    def on_InventoryReserved(self, data: Data, rng: Random) -> list[Emission]:
        carrier = ("DHL", "UPS", "DPD", "PostNL")[int(rng.random() * 4)]
        return [Emission(_delay(rng, 200, 3000), "ShippingScheduled", {
            "order_id": data["order_id"], "customer_id": data["customer_id"],
            "shipment_id": _ref(rng, "SHP"), "carrier": carrier,
            "warehouse": data["warehouse"],
            "estimated_delivery_days": 1 + int(rng.random() * 5)})]


_TEMPLATES = {
    "OrderPlaced": "order-confirmation",
    "PaymentFailed": "payment-failed",
    "ShippingScheduled": "shipping-update",
    "OrderCompleted": "order-completed",
    "RefundIssued": "refund-issued",
    "CustomerRegistered": "welcome",
    "AccountOpened": "account-opened",
    "KycRejected": "kyc-rejected",
}


class NotificationService(Service):
    """Tells the customer about most things that happen: emits CustomerNotified (not a step)."""

    name = "notification-service"
    consumes = frozenset(_TEMPLATES)
    produces = frozenset({"CustomerNotified"})

    def react(self, event_type: str, data: Data, rng: Random) -> list[Emission]:
        return [Emission(_delay(rng, 50, 1000), "CustomerNotified", self.notice(
            event_type, data, rng))]

    @staticmethod
    def notice(event_type: str, data: Data, rng: Random) -> Data:
        notice: Data = {"customer_id": data["customer_id"],
                        "channel": _CHANNELS[int(rng.random() * len(_CHANNELS))],
                        "template": _TEMPLATES[event_type], "about": event_type}
        if "order_id" in data:
            notice["order_id"] = data["order_id"]
        return notice


class CustomerService(Service):
    """Registers customers (starts onboarding) and keeps their status and contact history."""

    name = "customer-service"
    consumes = frozenset({"AccountOpened", "KycRejected", "CustomerNotified"})
    produces = frozenset({"CustomerRegistered", "CustomerAudited"})

    def register(self, rng: Random) -> Emission:
        customer_id = f"CUS-{rng.randrange(100_000, 1_000_000):06d}"
        return Emission(0, "CustomerRegistered", {
            "customer_id": customer_id, "email": f"{customer_id.lower()}@example.com",
            "country": _COUNTRIES[int(rng.random() * len(_COUNTRIES))],
            "marketing_opt_in": rng.random() < 0.4})

    def on_AccountOpened(self, data: Data, rng: Random) -> list[Emission]:
        return []

    def on_KycRejected(self, data: Data, rng: Random) -> list[Emission]:
        return []

    def on_CustomerNotified(self, data: Data, rng: Random) -> list[Emission]:
        return []


class KycService(Service):
    name = "kyc-service"
    consumes = frozenset({"CustomerRegistered"})
    produces = frozenset({"KycChecked"})

    def on_CustomerRegistered(self, data: Data, rng: Random) -> list[Emission]:
        score = int(rng.random() * 101)
        risk = "low" if score >= 60 else "medium" if score >= 30 else "high"
        return [Emission(_delay(rng, 500, 4000), "KycChecked", {
            "customer_id": data["customer_id"], "check_id": _ref(rng, "KYC"),
            "score": score, "risk_level": risk, "provider": "idcheck"})]


class AccountService(Service):
    """Opens an account for a customer who passed KYC; rejects the others."""

    name = "account-service"
    consumes = frozenset({"KycChecked"})
    produces = frozenset({"AccountOpened", "KycRejected"})

    def on_KycChecked(self, data: Data, rng: Random) -> list[Emission]:
        delay = _delay(rng, 200, 2500)
        if data["score"] < 15:
            return [Emission(delay, "KycRejected", {
                "customer_id": data["customer_id"], "check_id": data["check_id"],
                "reason": "score_below_threshold"})]
        account_type = "premium" if rng.random() < 0.2 else "standard"
        return [Emission(delay, "AccountOpened", {
            "customer_id": data["customer_id"], "account_id": _ref(rng, "ACC"),
            "account_type": account_type})]


SERVICES: tuple[type[Service], ...] = (
    OrderService, PaymentService, InventoryService, ShippingService, NotificationService,
    CustomerService, KycService, AccountService)


def build_services() -> tuple[Service, ...]:
    """Fresh instances (their state is per simulation run)."""
    return tuple(cls() for cls in SERVICES)
