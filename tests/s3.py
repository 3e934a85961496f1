"""A real S3-compatible server on loopback (moto's standalone server, its own process)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from tests.smtp import free_port

ACCESS_KEY = "sportello-test-key"
SECRET_KEY = "sportello-test-secret"
REGION = "eu-south-1"


class S3Server:
    """``python -m moto.server`` bound to 127.0.0.1 on a free port; buckets made over HTTP."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{self.endpoint}/moto-api/", timeout=1)
                return
            except httpx.TransportError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the S3 server did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None

    def client(self) -> object:
        """A plain boto3 client, for tests to look inside the bucket."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(  # type: ignore[attr-defined]
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION}
        )

    def settings_update(
        self, bucket: str, prefix: str = "att", presign: int = 0
    ) -> dict[str, object]:
        """What to change in the test settings so the app stores files in this bucket."""
        from pydantic import SecretStr

        return {
            "storage_url": f"s3://{bucket}/{prefix}",
            "s3_endpoint_url": self.endpoint,
            "s3_region": REGION,
            "s3_access_key_id": ACCESS_KEY,
            "s3_secret_access_key": SecretStr(SECRET_KEY),
            "s3_presign_seconds": presign,
        }
