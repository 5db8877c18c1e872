"""Expected failures are told from bugs in one place."""
from __future__ import annotations

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    CloudRequestError,
    InvalidInputError,
    bug_report,
    known_error,
)


def test_an_expected_failure_is_itself():
    err = InvalidInputError("x")
    assert known_error(err, lambda _e: CloudRequestError("other")) is err


def test_the_first_translator_that_knows_an_error_wins():
    err = ValueError("503")
    known = known_error(err, lambda _e: None, lambda e: CloudRequestError(f"glance: {e}"), lambda _e: 1 / 0)
    assert isinstance(known, CloudRequestError) and str(known) == "glance: 503"


def test_an_error_no_translator_knows_is_a_bug_with_its_traceback():
    def deep():
        return {}["missing"]

    with pytest.raises(KeyError) as raised:
        deep()
    assert known_error(raised.value, lambda _e: None) is None
    report = bug_report(raised.value)
    assert report["bug"] == "KeyError"
    assert "in deep" in report["traceback"] and "KeyError: 'missing'" in report["traceback"]


def test_a_bug_report_is_redacted_and_carries_its_reason():
    def deep():
        raise ValueError("cannot open swift+https://tenant:user:s3cr3t@host/v1/AUTH_x/c")

    with pytest.raises(ValueError) as raised:
        deep()
    report = bug_report(raised.value)
    assert report["reason"] == "ValueError: cannot open swift+https://***@host/v1/AUTH_x/c"
    assert "s3cr3t" not in report["traceback"] and "in deep" in report["traceback"]
