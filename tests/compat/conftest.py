"""Fixtures for the boto3 client-compatibility tests."""

from __future__ import annotations

import pytest

from compat_helpers import empty_and_delete_bucket, make_client, unique_bucket


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def s3():
    return make_client()


@pytest.fixture
def bucket(s3):
    name = unique_bucket()
    s3.create_bucket(Bucket=name)
    yield name
    empty_and_delete_bucket(s3, name)


@pytest.fixture
def bucket2(s3):
    name = unique_bucket("b2")
    s3.create_bucket(Bucket=name)
    yield name
    empty_and_delete_bucket(s3, name)
