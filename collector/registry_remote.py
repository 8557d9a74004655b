"""Reading an existing Confluent-compatible schema registry (``[registry] url``).

confluent-kafka's `SchemaRegistryClient` does the talking (basic auth, TLS, retries, and its
own caches of schemas by id and by subject version); requests sends what it has no call for
(registrations that keep their id, in IMPORT mode). `fetch_registry` reads every JSON subject
into a `catalog.registry.Registry` value plus the ids of its versions, which is what the
collector's validator and ``schemas`` commands work on; `RemoteRegistry.mode` reads the mode
the registry enforces for a subject, which the compatibility page shows beside Choreoscope's
own verdict. `import_subjects` and `export_subjects` copy subjects between a registry and the
schema folder, keeping version numbers and ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collector.exceptions import ConfigError

if TYPE_CHECKING:
    from catalog.registry import Registry
    from collector.settings import RegistrySettings

__all__ = ["RemoteRegistry", "RemoteVersion", "export_subjects", "import_subjects"]


@dataclass(frozen=True, slots=True)
class RemoteVersion:
    subject: str
    version: int
    schema_id: int
    schema: Any


class RemoteRegistry:
    """A Confluent-compatible registry at ``url``; every failure is a `ConfigError` naming it."""

    def __init__(self, url: str, *, user: str | None = None, password: str | None = None,
                 ca: str | None = None, cert: str | None = None, key: str | None = None) -> None:
        from confluent_kafka.schema_registry import SchemaRegistryClient

        conf: dict[str, Any] = {"url": url}
        if user is not None and password is not None:
            conf["basic.auth.user.info"] = f"{user}:{password}"
        for name, value in (("ssl.ca.location", ca), ("ssl.certificate.location", cert),
                            ("ssl.key.location", key)):
            if value:
                conf[name] = value
        self.url = url
        self.client = SchemaRegistryClient(conf)

    @classmethod
    def from_settings(cls, conf: RegistrySettings) -> RemoteRegistry | None:
        if not conf.url:
            return None
        password = conf.url_password.get_secret_value() if conf.url_password else None
        return cls(conf.url, user=conf.url_user, password=password, ca=conf.url_ca,
                   cert=conf.url_cert, key=conf.url_key)

    def _call(self, what: str, fn: Any, *args: Any) -> Any:
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        try:
            return fn(*args)
        except SchemaRegistryError as exc:
            raise ConfigError("registry.url", self.url, f"a registry that answers {what} "
                              f"({exc.http_status_code} {exc.error_code}: "
                              f"{exc.error_message})") from exc
        except Exception as exc:  # httpx's connection and TLS errors, by their many names
            raise ConfigError("registry.url", self.url, f"a reachable schema registry "
                              f"({type(exc).__name__}: {exc})") from exc

    def versions(self) -> Iterator[RemoteVersion]:
        """Every version of every JSON subject, in subject and version order."""
        for subject in sorted(self._call("GET /subjects", self.client.get_subjects)):
            for number in self._call(f"GET /subjects/{subject}/versions",
                                     self.client.get_versions, subject):
                found = self._call(f"GET /subjects/{subject}/versions/{number}",
                                   self.client.get_version, subject, number)
                if (found.schema.schema_type or "AVRO") != "JSON":
                    continue  # Avro and Protobuf subjects are not this registry's business
                yield RemoteVersion(subject, int(found.version), int(found.schema_id),
                                    json.loads(found.schema.schema_str))

    def mode(self, subject: str | None = None) -> str:
        """The compatibility mode the registry enforces for ``subject`` (else its global)."""
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        if subject is not None:
            try:
                return str(self.client.get_compatibility(subject))
            except SchemaRegistryError:
                pass  # no subject-level mode: the global one applies
        return str(self._call("GET /config", self.client.get_compatibility))


def fetch_registry(remote: RemoteRegistry, base: Registry
                   ) -> tuple[Registry, dict[int, list[tuple[str, int]]]]:
    """``base`` (settings, draft) holding every JSON version of ``remote``, and its ids."""
    registry = base
    ids: dict[int, list[tuple[str, int]]] = {}
    for v in remote.versions():
        registry = registry.with_loaded(v.subject, v.schema, version=v.version,
                                        source=f"{remote.url}/subjects/{v.subject}/versions/"
                                               f"{v.version}")
        ids.setdefault(v.schema_id, []).append((v.subject, v.version))
    return registry, ids


def import_subjects(remote: RemoteRegistry, folder: Path) -> list[RemoteVersion]:
    """Copy every JSON version of ``remote`` into the schema folder, keeping its version number
    and id (``registry.json``). A version already in the folder is left as it is."""
    from catalog.files import load_ids, load_registry, save_ids, write_version

    registry = load_registry(folder)
    table = load_ids(folder, registry)
    copied = []
    for v in remote.versions():
        if table.id_of(v.subject, v.version) is not None:
            continue
        registry = registry.with_loaded(v.subject, v.schema, source=remote.url,
                                        version=v.version)
        write_version(folder, registry.get(v.subject, v.version))
        table = table.with_version(v.subject, v.version, registry.get(v.subject,
                                   v.version).schema, schema_id=v.schema_id)
        copied.append(v)
    save_ids(folder, table)
    return copied


def export_subjects(folder: Path, url: str, *, user: str | None = None,
                    password: str | None = None, verify: str | bool = True) -> int:
    """Copy every version of the schema folder to the registry at ``url`` with its version and
    id: each subject is put in IMPORT mode (``PUT /mode/{subject}``) for the copy and back to
    READWRITE after, as the reference registry's migration procedure does."""
    import requests

    from catalog.files import load_ids, load_registry

    registry = load_registry(folder)
    table = load_ids(folder, registry)
    http = requests.Session()
    if user is not None and password is not None:
        http.auth = (user, password)
    http.verify = verify
    http.headers["Content-Type"] = "application/vnd.schemaregistry.v1+json"
    base = url.rstrip("/")
    sent = 0
    with http:
        for subject in registry:
            _put(http, base, f"/mode/{subject.name}", {"mode": "IMPORT"})
            for v in subject.versions:
                if (subject.name, v.version) in table.deleted:
                    continue
                refs = [r.to_json() for r in table.references.get((subject.name, v.version), ())]
                body = {"schema": json.dumps(v.schema), "schemaType": "JSON",
                        "id": table.id_of(subject.name, v.version), "version": v.version,
                        "references": refs}
                resp = _call(url, lambda b=body, s=subject.name: http.post(
                    f"{base}/subjects/{s}/versions", json=b, timeout=30))
                if resp.status_code != 200:
                    raise ConfigError("--to", url, f"a registry accepting {subject.name} "
                                      f"version {v.version} ({resp.status_code} {resp.text})")
                sent += 1
            _put(http, base, f"/mode/{subject.name}", {"mode": "READWRITE"})
    return sent


def _call(url: str, send: Any) -> Any:
    import requests

    try:
        return send()
    except requests.RequestException as exc:
        raise ConfigError("--to", url, f"a reachable schema registry ({type(exc).__name__}: "
                          f"{exc})") from exc


def _put(http: Any, base: str, path: str, body: dict[str, Any]) -> None:
    resp = _call(base, lambda: http.put(base + path, json=body, timeout=30))
    if resp.status_code != 200:
        raise ConfigError("--to", base, f"a registry that accepts PUT {path} "
                          f"({resp.status_code} {resp.text})")
