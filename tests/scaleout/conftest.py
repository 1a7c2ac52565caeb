"""Scale-out fixtures: the object store on a real S3-protocol server, a bucket per test."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from vigparent.keyring import Keyring
from vigparent.object_store import ObjectMediaStore

TEST_CREDENTIALS = {"aws_access_key_id": "vigtest", "aws_secret_access_key": "vigtest-secret"}
REGION = "eu-west-2"


def s3_client(url: str) -> Any:
    return boto3.client("s3", endpoint_url=url, region_name=REGION, **TEST_CREDENTIALS)


def new_bucket(url: str) -> str:
    name = f"vig-{secrets.token_hex(6)}"
    s3_client(url).create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    return name


def bucket_keys(url: str, bucket: str) -> list[str]:
    pages = s3_client(url).get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return [o["Key"] for page in pages for o in page.get("Contents", ())]


def s3_env(url: str, bucket: str) -> dict[str, str]:
    """What a web node's environment says to keep its media in ``bucket``."""
    return {
        "VIGPARENT_S3_BUCKET": bucket,
        "VIGPARENT_S3_ENDPOINT_URL": url,
        "VIGPARENT_S3_REGION": REGION,
        "VIGPARENT_S3_ACCESS_KEY_ID": TEST_CREDENTIALS["aws_access_key_id"],
        "VIGPARENT_S3_SECRET_ACCESS_KEY": TEST_CREDENTIALS["aws_secret_access_key"],
    }


@pytest.fixture
def bucket(s3_url: str) -> str:
    return new_bucket(s3_url)


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    return Keyring(tmp_path / "keys", os.urandom(32))


@pytest.fixture
def object_store(
    s3_url: str, bucket: str, keyring: Keyring, tmp_path: Path
) -> Iterator[ObjectMediaStore]:
    # Small segments, so a test of a few hundred KiB spans several of them.
    yield ObjectMediaStore(
        s3_client(s3_url), bucket, keyring, spool_dir=tmp_path / "spool", segment_bytes=100_000
    )


def master_key_b64() -> str:
    return base64.b64encode(os.urandom(32)).decode()
