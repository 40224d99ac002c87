"""Property-based requests over the OpenAPI schema (schemathesis): never a server error.

Every operation gets well-formed requests (positive) and malformed ones (negative)
generated from the schema the service publishes, sent to a real server.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.api.conftest import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}
EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 15}


def test_no_request_makes_a_server_error(api_server):
    schema = schemathesis.openapi.from_url(f"{api_server.url}/openapi.json", headers=AUTH)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 11
    tried = []
    for operation in operations:
        for mode, examples in EXAMPLES.items():

            @given(case=operation.as_strategy(mode))
            @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            def call(case: schemathesis.Case) -> None:
                case.call_and_validate(headers=AUTH, checks=[not_a_server_error], timeout=60)

            try:
                call()
            except Unsatisfiable:  # no parameters and no body: nothing malformed to send
                assert mode is GenerationMode.NEGATIVE
                continue
            tried.append((operation.label, mode))
    assert len(tried) >= 2 * len(operations) - 4
