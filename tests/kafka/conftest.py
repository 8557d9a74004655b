"""Fixtures of the Kafka tap's tests. The session broker (``kafka_broker``, ``kafka``) is in
``tests/conftest.py``, shared with every other test that needs one."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.conftest import SASL_USERS, kafka_script

__all__ = ["SASL_USERS", "kafka_script"]


@pytest.fixture
def topic(request: pytest.FixtureRequest) -> str:
    """A topic name no other test uses."""
    base = re.sub(r"[^A-Za-z0-9._-]", "-", request.node.name)[:60]
    return f"{base}-{uuid.uuid4().hex[:8]}"
