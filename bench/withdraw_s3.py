"""Time to withdraw a family whose media is in an S3-compatible bucket, against the time to
read that media once (decrypting, through ranged GETs) from the same bucket.

Builds a real app (SQLite, keyring, the object-store media backend) with one family holding
``--mib`` MiB of media in recordings, transcodes and clips (as ``withdraw.py`` does on local
disk), reads it all once, then withdraws consent (journal, key destroyed, every object
deleted, receipt completed) and checks the family's prefix in the bucket is empty.

The S3 endpoint is ``--s3-url`` (MinIO, or AWS with credentials in the environment), or a
moto server this script starts on a free port (in memory: mind the RAM for 1 GiB).

    .venv/bin/python bench/withdraw_s3.py [--mib 256] [--runs 1] [--s3-url URL]
    .venv/bin/python bench/withdraw_s3.py --mib 1024     # the 1 GB family
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import boto3
import repo_root  # noqa: F401  (tests.support below)
from withdraw import MIB, build, read_decrypted

from tests.support.servers import start_s3
from vigparent import db, media_store
from vigparent.withdrawal import service

CREDENTIALS = {"aws_access_key_id": "vigbench", "aws_secret_access_key": "vigbench-secret"}
REGION = "eu-west-2"


def one_run(total_mib: int, s3_url: str) -> dict[str, float]:
    bucket = f"vig-bench-{secrets.token_hex(4)}"
    s3 = boto3.client("s3", endpoint_url=s3_url, region_name=REGION, **CREDENTIALS)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    with tempfile.TemporaryDirectory(prefix="vig-bench-withdraw-s3-") as tmp:
        app, ctx, family, parent = build(
            Path(tmp),
            total_mib,
            s3_bucket=bucket,
            s3_endpoint_url=s3_url,
            s3_region=REGION,
            s3_access_key_id=CREDENTIALS["aws_access_key_id"],
            s3_secret_access_key=CREDENTIALS["aws_secret_access_key"],
        )
        try:
            store = media_store.store()
            stored = store.family_usage(family.id)
            objects = s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0)

            t = time.perf_counter()
            plain = read_decrypted(family.id)
            read_s = time.perf_counter() - t

            t = time.perf_counter()
            receipt = service.withdraw_consent(family, parent)
            withdraw_s = time.perf_counter() - t

            assert receipt.completed_at is not None and receipt.key_destroyed
            assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
            assert not media_store.keyring().has_key(family.id)
            return {
                "plain_mib": plain / MIB,
                "stored_mib": stored / MIB,
                "objects": objects,
                "read_s": read_s,
                "withdraw_s": withdraw_s,
            }
        finally:
            db.session().close()
            ctx.pop()
            app.extensions["vig_engine"].dispose()
            s3.delete_bucket(Bucket=bucket)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256, help="media per family, in MiB")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--s3-url", default="", help="an S3 endpoint (default: start moto)")
    args = parser.parse_args()

    server = None if args.s3_url else start_s3()
    s3_url = args.s3_url or (server.url if server else "")
    try:
        results = [one_run(args.mib, s3_url) for _ in range(args.runs)]
    finally:
        if server is not None:
            server.stop()
    r0 = results[0]
    read_s = statistics.median(r["read_s"] for r in results)
    withdraw_s = statistics.median(r["withdraw_s"] for r in results)
    print(
        f"S3 ({s3_url}): {r0['plain_mib']:.0f} MiB of media in {r0['objects']:.0f} objects "
        f"({r0['stored_mib']:.0f} MiB stored); median of {args.runs} runs"
    )
    print(f"  read once, decrypting (ranged GETs): {read_s * 1000:9.1f} ms")
    print(f"  withdraw_consent (key + every object): {withdraw_s * 1000:7.1f} ms")
    print(f"  ratio withdraw / decrypting read = {withdraw_s / read_s:.3f}")


if __name__ == "__main__":
    main()
