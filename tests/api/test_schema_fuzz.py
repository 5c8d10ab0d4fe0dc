"""schemathesis against the live OpenAPI schema, in-process over WSGI: a bounded number of generated
requests per operation, with a manager's token. No 5xx, and no response that breaks the schema."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from complaints.api_auth import api_token_issue
from complaints.roles import Actor

EXAMPLES_PER_OPERATION = 25
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    negative_data_rejection,
]


@pytest.fixture
def wsgi_app(db, settings):
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    # As Django's test client does: requests share the test's connection and transaction, so
    # the handler must not close it when a request ends.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_the_api_never_fails_or_breaks_its_schema(wsgi_app, manager, file_complaint):
    # One real complaint, so some generated references exist.
    file_complaint(by=Actor.staff(manager), channel="phone")
    headers = {"Authorization": f"Token {api_token_issue(user=manager)}"}
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        call()
