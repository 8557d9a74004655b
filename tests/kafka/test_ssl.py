"""SSL settings pass through to the client, against a broker of its own with an SSL listener."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collector.kafka.producer import publish
from tests.kafka._support import Rec, cloudevent
from tests.kafka.conftest import kafka_script

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _ca(folder: Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
             "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN={name}", cwd=folder)


@pytest.fixture(scope="module")
def ssl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    folder = tmp_path_factory.mktemp("ssl")
    _ca(folder, "ca")
    _ca(folder, "other-ca")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out",
             "server.csr", "-subj", "/CN=127.0.0.1", cwd=folder)
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.ext",
             cwd=folder)
    _openssl("pkcs8", "-topk8", "-nocrypt", "-in", "server.key", "-out", "server.pk8",
             cwd=folder)
    keystore = folder / "keystore.pem"
    keystore.write_bytes((folder / "server.pk8").read_bytes() + (folder / "server.pem")
                         .read_bytes())
    broker = kafka_script.KafkaBroker(kafka_script.fetch(), workdir=folder / "kafka",
                                      ssl_keystore=keystore, partitions=1, heap="256m")
    broker.workdir.mkdir()
    try:
        broker.start()
    except kafka_script.BrokerError as exc:
        pytest.fail(f"the SSL broker did not start: {exc}", pytrace=False)
    yield broker, folder
    broker.close()


def _collect(broker: Any, folder: Path, cafile: str, topic: str, *,
             until_idle: bool) -> subprocess.Popen[str]:
    config = folder / f"{cafile}.toml"
    config.write_text(f'[kafka]\nsecurity_protocol = "SSL"\nssl_cafile = "{folder / cafile}"\n')
    idle = ["--until-idle", "1"] if until_idle else []
    return subprocess.Popen(
        [sys.executable, "-m", "collector.cli", "--config", str(config), "collect", "--store",
         f"sqlite:///{folder / (cafile + '.db')}", "--bootstrap-servers", broker.ssl_bootstrap,
         "--topics", topic, "--metrics-port", "0", *idle],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_the_collector_reads_over_ssl_with_the_configured_ca(ssl_broker: tuple[Any, Path],
                                                             topic: str) -> None:
    broker, folder = ssl_broker
    publish([Rec(topic, cloudevent(i, f"c-{i}")) for i in range(15)], broker.bootstrap)
    ok = _collect(broker, folder, "ca.pem", topic, until_idle=True)
    output, _ = ok.communicate(timeout=120)
    assert ok.returncode == 0, output[-3000:]
    assert "collected 15 records" in output
    assert "'security_protocol': 'SSL'" in output


def test_a_certificate_from_another_ca_is_refused(ssl_broker: tuple[Any, Path],
                                                  topic: str) -> None:
    broker, folder = ssl_broker
    publish([Rec(topic, cloudevent(1, "c-1"))], broker.bootstrap)
    bad = _collect(broker, folder, "other-ca.pem", topic, until_idle=False)
    output, _ = bad.communicate(timeout=120)  # no retry: it exits
    assert bad.returncode == 2, output[-3000:]
    assert "collected" not in output
    errors = [line for line in output.splitlines() if line.startswith("choreoscope: ")
              and "loaded " not in line]
    assert len(errors) == 1, output[-3000:]
    assert f"the TLS handshake with Kafka at {broker.ssl_bootstrap} failed" in errors[0]
    assert "CERTIFICATE_VERIFY_FAILED" in errors[0]
    assert "Handshake failed" not in output.replace(errors[0], "")  # not kafka-python's raw lines
