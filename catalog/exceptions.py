"""The catalog's exceptions: one root, each carrying the data that explains it."""

from __future__ import annotations

__all__ = [
    "CatalogError",
    "IncompatibleSchema",
    "RemoteReference",
    "SchemaNotFound",
    "SchemaRejected",
    "TooComplex",
    "VersionExists",
]


class CatalogError(Exception):
    """Root of every error the catalog raises on purpose."""


class SchemaRejected(CatalogError):
    """A schema failed its meta-schema (or could not be read): names the file and the keyword."""

    def __init__(self, source: str, keyword: str, pointer: str, message: str) -> None:
        super().__init__(
            f"{source}: schema rejected at {pointer or '/'} (keyword {keyword!r}): {message}"
        )
        self.source = source
        self.keyword = keyword
        self.pointer = pointer
        self.message = message


class RemoteReference(SchemaRejected):
    """A ``$ref`` that leads outside its document and the registry: refused, never fetched."""

    def __init__(self, source: str, pointer: str, keyword: str, ref: str, uri: str) -> None:
        if uri.startswith("json-schema:///"):  # relative to no base: names nothing registered
            what = f"reference {ref!r} names no schema in this document or the registry"
        else:
            what = f"remote reference {ref!r} is never fetched"
        super().__init__(source, keyword, pointer, f"{what}: schemas resolve only within the "
                         "document and between registered schemas; define it under $defs, "
                         "or register it and reference its $id")
        self.ref = ref
        self.uri = uri


class SchemaNotFound(CatalogError):
    """No subject of that name, or no such version of it."""

    def __init__(self, subject: str, version: int | None = None) -> None:
        what = f"subject {subject!r}" if version is None else f"version {version} of {subject!r}"
        super().__init__(f"{what} is not registered")
        self.subject = subject
        self.version = version


class IncompatibleSchema(CatalogError):
    """A new version breaks its subject's compatibility mode; carries the report."""

    def __init__(self, subject: str, report: object) -> None:
        super().__init__(f"the new version of {subject!r} is not compatible")
        self.subject = subject
        self.report = report


class TooComplex(CatalogError):
    """A comparison exceeded its step budget (deep unions, huge schemas)."""

    def __init__(self, steps: int, pointer: str) -> None:
        where = f" at {pointer}" if pointer else ""
        super().__init__(
            f"schemas too complex to compare: gave up after {steps} steps{where} (deeply "
            "nested unions or a very large schema); simplify the schema or raise the budget"
        )
        self.steps = steps
        self.pointer = pointer


class VersionExists(CatalogError):
    """A subject already has a version with that number."""

    def __init__(self, subject: str, version: int) -> None:
        super().__init__(f"{subject!r} already has a version {version}")
        self.subject = subject
        self.version = version
