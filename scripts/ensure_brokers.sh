#!/usr/bin/env bash
# RabbitMQ and NATS from Debian's packages for the broker taps' tests (tests/brokers): the test
# session starts its own `rabbitmq-server` node and `nats-server -js` on free local ports.
# Idempotent: does nothing when both are installed. Called by `make test`.
set -euo pipefail
RABBIT=/usr/lib/rabbitmq/bin/rabbitmq-server
have() { [ -x "$RABBIT" ] && command -v nats-server >/dev/null 2>&1 && command -v epmd >/dev/null 2>&1; }
if have; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
echo "ensure_brokers: rabbitmq-server or nats-server is missing; installing Debian's packages" >&2
if ! apt-cache show rabbitmq-server nats-server >/dev/null 2>&1; then
    $SUDO apt-get update -qq
fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq rabbitmq-server nats-server >&2
# the package's service is not ours: the tests start nodes of their own (no-op without systemd)
$SUDO systemctl disable --now rabbitmq-server >/dev/null 2>&1 || true
have || { echo "ensure_brokers: rabbitmq-server or nats-server still missing after install" >&2; exit 1; }
