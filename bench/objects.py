"""Swift containers into RGW over S3: swift_object_migrate against ``rclone copy --checksum``.

Two data sets sit in the local Swift (seeded once, kept between runs): 1,000 small objects
(1 to 64 KiB, half with ``X-Object-Meta-*``) and 3 large ones of 256 MiB (an SLO of 4 x 64 MiB
segments, a DLO of 4 x 64 MiB segments, a plain object). Each tool copies each set into fresh
buckets of the local RGW, in the same run and with the same number of objects in flight; every
copy is then checked by size (and, for ours, by the MD5 the module recorded).

The module verifies more than rclone on the way: every segment against its manifest's ETag, the
whole stream's MD5 (rclone cannot check an SLO's or DLO's content), and it keeps Swift metadata.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor

import boto3
import openstack
import yaml
from botocore.config import Config

from common import COLLECTIONS, facts, run_module, timed

MIB = 2**20
SMALL, LARGE = "bench-objects-small", "bench-objects-large"
SMALL_COUNT = 1000
LARGE_MIB, SEGMENT_MIB = 256, 64


def swift_store(cloud):
    return openstack.connect(cloud=cloud["admin_cloud"]).object_store


def count(store, container) -> int:
    response = store.request(f"/{container}", "HEAD")
    return int(response.headers.get("X-Container-Object-Count", 0)) if response.status_code == 204 else 0


def seed(store) -> None:
    """The data sets, unless an earlier run left them complete."""
    if count(store, SMALL) != SMALL_COUNT:
        store.request(f"/{SMALL}", "PUT")

        def small(index: int) -> None:
            headers = {"X-Object-Meta-Index": str(index)} if index % 2 else {}
            size = 1024 + (index * 7919) % (63 * 1024)
            store.request(f"/{SMALL}/dir{index % 10}/object-{index:04}", "PUT", data=os.urandom(size),
                          headers=headers)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(small, range(SMALL_COUNT)))
    if count(store, LARGE) != 3:
        for container in (LARGE, f"{LARGE}_segments"):
            store.request(f"/{container}", "PUT")
        manifest = []
        for number in range(LARGE_MIB // SEGMENT_MIB):
            piece = os.urandom(SEGMENT_MIB * MIB)
            store.request(f"/{LARGE}_segments/slo/{number:04}", "PUT", data=piece)
            manifest.append({"path": f"/{LARGE}_segments/slo/{number:04}", "size_bytes": len(piece),
                             "etag": hashlib.md5(piece).hexdigest()})
            store.request(f"/{LARGE}_segments/dlo/{number:04}", "PUT", data=os.urandom(SEGMENT_MIB * MIB))
        store.request(f"/{LARGE}/slo", "PUT", params={"multipart-manifest": "put"}, json=manifest)
        store.request(f"/{LARGE}/dlo", "PUT", data=b"", headers={"X-Object-Manifest": f"{LARGE}_segments/dlo/"})
        store.request(f"/{LARGE}/plain", "PUT", data=os.urandom(LARGE_MIB * MIB))


def s3_client(rgw):
    return boto3.client("s3", endpoint_url=rgw["endpoint"], aws_access_key_id=rgw["s3_access_key"],
                        aws_secret_access_key=rgw["s3_secret_key"], region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}))


def empty_bucket(s3, bucket) -> None:
    if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        return
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
    for upload in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    s3.delete_bucket(Bucket=bucket)


def sizes(s3, bucket) -> dict[str, int]:
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        found.update({item["Key"]: item["Size"] for item in page.get("Contents", [])})
    return found


def rclone_env(cloud) -> dict[str, str]:
    auth = yaml.safe_load(open(cloud["clouds_yaml"], encoding="utf-8"))["clouds"][cloud["admin_cloud"]]["auth"]
    rgw = cloud["ceph"]["rgw"]
    return {"RCLONE_CONFIG_SWIFT_TYPE": "swift", "RCLONE_CONFIG_SWIFT_AUTH": auth["auth_url"],
            "RCLONE_CONFIG_SWIFT_AUTH_VERSION": "3", "RCLONE_CONFIG_SWIFT_USER": auth["username"],
            "RCLONE_CONFIG_SWIFT_KEY": auth["password"], "RCLONE_CONFIG_SWIFT_TENANT": auth["project_name"],
            "RCLONE_CONFIG_SWIFT_DOMAIN": "Default",  # rclone takes domain names
            "RCLONE_CONFIG_SWIFT_TENANT_DOMAIN": "Default",
            "RCLONE_CONFIG_SWIFT_REGION": cloud["region"],
            "RCLONE_CONFIG_RGW_TYPE": "s3", "RCLONE_CONFIG_RGW_PROVIDER": "Ceph",
            "RCLONE_CONFIG_RGW_ENDPOINT": rgw["endpoint"], "RCLONE_CONFIG_RGW_ACCESS_KEY_ID": rgw["s3_access_key"],
            "RCLONE_CONFIG_RGW_SECRET_ACCESS_KEY": rgw["s3_secret_key"], "RCLONE_CONFIG_RGW_FORCE_PATH_STYLE": "true"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=8, help="objects in flight, for both tools")
    parser.add_argument("--collections", default=COLLECTIONS)
    options = parser.parse_args()
    cloud = facts()
    os.environ["OS_CLIENT_CONFIG_FILE"] = cloud["clouds_yaml"]
    # rclone's S3 client refuses to start with a custom CA bundle on its http transport (the
    # endpoints are plain http on loopback: no certificate is involved)
    os.environ.pop("AWS_CA_BUNDLE", None)
    rgw = cloud["ceph"]["rgw"]
    store, s3 = swift_store(cloud), s3_client(rgw)
    seed(store)
    journals = tempfile.mkdtemp(prefix="bench-journal-")
    rows = []
    for container, expected in ((SMALL, SMALL_COUNT), (LARGE, 3)):
        for tool in ("swift_object_migrate", "rclone"):
            bucket = f"{container}-{'ours' if tool != 'rclone' else 'rclone'}"
            empty_bucket(s3, bucket)
            if tool == "rclone":
                seconds, rss, _out = timed(["rclone", "copy", "--checksum", "--transfers",
                                            str(options.concurrency), f"swift:{container}", f"rgw:{bucket}"],
                                           rclone_env(cloud))
            else:
                seconds, rss, result = run_module(options.collections, "swift_object_migrate", {
                    "cloud": cloud["admin_cloud"], "containers": [container], "bucket_names": {container: bucket},
                    "s3_endpoint_url": rgw["endpoint"], "s3_access_key": rgw["s3_access_key"],
                    "s3_secret_key": rgw["s3_secret_key"], "concurrency": options.concurrency,
                    "journal_dir": journals})
                assert result["counts"]["copied"] == expected, result["counts"]
            copied = sizes(s3, bucket)
            assert len(copied) == expected, f"{tool} copied {len(copied)} of {expected} objects"
            total = sum(copied.values())
            rows.append((container, tool, seconds, rss, expected, total))
            print(f"{container} {tool}: {seconds:.1f}s, {expected / seconds:.1f} objects/s, "
                  f"{total / 1e6 / seconds:.1f} MB/s, peak RSS {rss:.0f} MiB", flush=True)
            empty_bucket(s3, bucket)
    print(f"\n{'data set':22} {'tool':22} {'seconds':>8} {'objects/s':>10} {'MB/s':>7} {'peak RSS':>9}  vs rclone")
    for index, (container, tool, seconds, rss, objects, total) in enumerate(rows):
        peer_seconds = rows[index | 1][2]  # rclone's row of the same data set
        print(f"{container:22} {tool:22} {seconds:8.1f} {objects / seconds:10.1f} {total / 1e6 / seconds:7.1f} "
              f"{rss:6.0f} MiB  {peer_seconds / seconds:5.2f}x")


if __name__ == "__main__":
    main()
