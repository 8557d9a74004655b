"""Both validators on the official JSON-Schema-Test-Suite (draft 2020-12 and draft-07).

One test per suite test (``optional/`` excluded), the verdict compared with the suite's
``valid``. Remote references (``http://localhost:1234/...``) are served from the suite's
``remotes/`` folder through each library's own retrieval hook. Known misses are listed with
their reasons; a listed miss that starts passing fails (strict xfail), and a listed id that no
longer exists fails too.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema_rs
import pytest
import referencing
import referencing.jsonschema

SUITE = Path(__file__).parents[2] / "../shared/acceptance/json-schema-test-suite"
REMOTE = "http://localhost:1234/"
DRAFTS = {
    "draft2020-12": (jsonschema.Draft202012Validator, jsonschema_rs.Draft202012Validator,
                     referencing.jsonschema.DRAFT202012),
    "draft7": (jsonschema.Draft7Validator, jsonschema_rs.Draft7Validator,
               referencing.jsonschema.DRAFT7),
}

# "<validator>:<draft>/<file>/<case description>/<test description>" -> reason
_NO_UNICODE_PROPERTY = (
    "jsonschema compiles patterns with Python's re, which has no Unicode property escapes "
    "(\\p{Letter}): the pattern does not compile (re.error). jsonschema-rs, the hot path, passes"
)
_NO_VOCABULARY = (
    "a custom meta-schema that drops the validation vocabulary: neither library honours "
    "$vocabulary, so minimum still applies. Event schemas use the standard meta-schemas"
)
KNOWN_MISSES: dict[str, str] = {
    "jsonschema:draft2020-12/pattern/pattern with Unicode property escape requires unicode "
    "mode/ASCII letters match": _NO_UNICODE_PROPERTY,
    "jsonschema:draft2020-12/pattern/pattern with Unicode property escape requires unicode "
    "mode/Non-ASCII letters match": _NO_UNICODE_PROPERTY,
    "jsonschema:draft2020-12/pattern/pattern with Unicode property escape requires unicode "
    "mode/Digits do not match": _NO_UNICODE_PROPERTY,
    "jsonschema:draft2020-12/patternProperties/patternProperties with Unicode property "
    "escape/Unicode letter property name matches": _NO_UNICODE_PROPERTY,
    "jsonschema:draft2020-12/patternProperties/patternProperties with Unicode property "
    "escape/Non-letter property name does not match pattern": _NO_UNICODE_PROPERTY,
    "jsonschema:draft2020-12/vocabulary/schema that uses custom metaschema with with no "
    "validation vocabulary/no validation: invalid number, but it still validates": _NO_VOCABULARY,
    "jsonschema_rs:draft2020-12/vocabulary/schema that uses custom metaschema with with no "
    "validation vocabulary/no validation: invalid number, but it still validates": _NO_VOCABULARY,
}


def _remote(uri: str) -> Any:
    if not uri.startswith(REMOTE):
        raise LookupError(f"no remote {uri}")
    return json.loads((SUITE / "remotes" / uri.removeprefix(REMOTE)).read_text())


def _retrieve(spec: Any, uri: str) -> referencing.Resource[Any]:
    return referencing.Resource.from_contents(_remote(uri), default_specification=spec)


def _tests() -> list[tuple[str, str, str, int, Any, Any, bool]]:
    out = []
    for draft in DRAFTS:
        for path in sorted((SUITE / "tests" / draft).glob("*.json")):
            for c, case in enumerate(json.loads(path.read_text())):
                for t, test in enumerate(case["tests"]):
                    name = f"{draft}/{path.stem}/{case['description']}/{test['description']}"
                    case_key = f"{path.stem}#{c}"
                    out.append((name, draft, case_key, t, case["schema"], test["data"],
                                test["valid"]))
    return out


TESTS = _tests()


SCHEMAS = {(draft, case_key): schema for _, draft, case_key, _, schema, _, _ in TESTS}


@functools.cache
def _compiled(kind: str, draft: str, case_key: str) -> Any:
    schema = SCHEMAS[(draft, case_key)]
    reference, compiled, spec = DRAFTS[draft]
    if kind == "jsonschema":
        registry: referencing.Registry[Any] = referencing.Registry(
            retrieve=functools.partial(_retrieve, spec)
        )
        return reference(schema, registry=registry)
    return compiled(schema, retriever=_remote)


def _params() -> list[Any]:
    params = []
    for kind in ("jsonschema", "jsonschema_rs"):
        for name, draft, case_key, _, _, data, valid in TESTS:
            test_id = f"{kind}:{name}"
            reason = KNOWN_MISSES.get(test_id)
            marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
            params.append(
                pytest.param(kind, draft, case_key, data, valid, id=test_id, marks=marks)
            )
    return params


@pytest.mark.parametrize(("kind", "draft", "case_key", "data", "valid"), _params())
def test_suite(kind: str, draft: str, case_key: str, data: Any, valid: bool) -> None:
    validator = _compiled(kind, draft, case_key)
    try:
        verdict = validator.is_valid(data)
    except Exception as exc:  # a library that cannot evaluate the schema misses the case
        pytest.fail(f"{kind} raised {exc!r}")
    assert verdict is valid


def test_known_misses_name_real_tests() -> None:
    names = {f"{kind}:{name}" for kind in ("jsonschema", "jsonschema_rs") for name, *_ in TESTS}
    assert set(KNOWN_MISSES) <= names
