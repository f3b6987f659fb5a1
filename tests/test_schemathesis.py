"""Schemathesis against the app's own OpenAPI schema, in process: every stock check that applies.

Positive and negative cases are generated for every operation; no answer may be a 5xx, every
answer must conform to the schema (status codes, content types, bodies, headers), and invalid
requests must be refused. One stock check does not apply: positive_data_acceptance expects every
schema-valid request to be accepted, but a network's shapes must also agree with each other
(layer 2's rows with layer 1's outputs), which JSON Schema cannot say; such requests are rightly
a 422. The number of examples is bounded to keep `make test` fast; `make fuzz` runs more.
"""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, settings

from app.config import Settings
from app.main import create_app

schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(Settings()))

EXAMPLES = 300 if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz" else 25


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))  # fmt: skip
def test_api_conforms_to_its_schema(case: schemathesis.Case) -> None:
    case.call_and_validate(excluded_checks=[schemathesis.checks.positive_data_acceptance])
