"""The start-up check of an object-store ``lance_uri`` (``s3://bucket/prefix``), before LanceDB uses it.

Why a probe: LanceDB 0.40 (lance 13) commits each table version on S3 with a conditional PUT of
the new manifest (``If-None-Match: *``, lance's ``ConditionalPutCommitHandler``, the default for
``s3://`` since lance PR #3483 — no DynamoDB table or external lock is needed since S3 gained
conditional writes in 2024). Two writers racing for the same version then get one success and one conflict,
which `letta_mcp.store.lance` retries. LanceDB offers no storage option to choose another commit
mode (lance issue #3638: the rename/unsafe handlers are not reachable from options); the way out
for a store without conditional writes is lance's DynamoDB-coordinated ``s3+ddb://…?ddbTableName=``
URI, which is not probed here. A store that *ignores* the header (some S3-compatible servers and
stand-ins) accepts both racing manifests and the second silently replaces the first: committed
index writes vanish without an error. A store that *rejects* the header fails every write. So at
start-up a probe object is PUT twice with ``If-None-Match: *``: the second PUT must be refused
(412, or 409 while racing), else the server refuses to start. AWS S3, MinIO and Cloudflare R2
support conditional writes (lance issue #2793); ``moto_server`` 5.2, the tests' stand-in, passes.

The probe is also where a missing bucket, a wrong endpoint or refused credentials surface, as one
line saying what to check, instead of LanceDB's retry trace at the first archival call. It signs
its requests itself (AWS Signature V4, path-style URLs as LanceDB uses with an endpoint) with the
static credentials of the storage options; without them (an instance role) it is skipped: that
is most likely AWS S3 itself, which supports conditional writes. No credential appears in any message.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import uuid
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

import httpx2

from letta_mcp.redact import redact_url

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 15.0
_CODE = re.compile(r"<Code>([^<]+)</Code>")
_CHECK_ENDPOINT = "Check AWS_ENDPOINT_URL (or lance_storage_options.aws_endpoint) and that the store is running."
_CHECK_CREDENTIALS = (
    "Check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or lance_storage_options), AWS_REGION, and that they "
    "may put, get, list and delete objects under the prefix."
)


class ObjectStoreError(Exception):
    """The object store of ``lance_uri`` cannot hold the index safely; the message says what to check."""


async def check_object_store(uri: str, options: dict[str, str]) -> None:
    """Probe an ``s3://`` Lance URI (see the module docstring); any other URI is left to LanceDB."""
    parts = urlsplit(uri)
    if parts.scheme not in ("s3", "s3a"):
        return
    if not (options.get("aws_access_key_id") and options.get("aws_secret_access_key")):
        log.info("Not probing %s for conditional writes: no static credentials (an AWS role)", redact_url(uri))
        return
    bucket, prefix = parts.netloc, parts.path.strip("/")
    region = options.get("aws_region") or "us-east-1"
    endpoint = (options.get("aws_endpoint") or f"https://s3.{region}.amazonaws.com").rstrip("/")
    shown = redact_url(endpoint)
    if endpoint.startswith("http://") and options.get("allow_http", "").lower() != "true":
        raise ObjectStoreError(
            f"The object store endpoint {shown} is plain http, which LanceDB refuses unless allowed: set "
            'AWS_ALLOW_HTTP=true (or lance_storage_options.allow_http = "true"), or use https.'
        )
    key = f"{prefix}/.letta-mcp-probe-{uuid.uuid4().hex}".lstrip("/")
    url = f"{endpoint}/{quote(bucket, safe='')}/{quote(key, safe='/~')}"
    where = f"bucket {bucket!r} at {shown} (lance_uri {redact_url(uri)})"
    signer = S3Signer(options["aws_access_key_id"], options["aws_secret_access_key"], region, options)
    async with httpx2.AsyncClient(timeout=PROBE_TIMEOUT_S) as http:
        try:
            first = await http.put(url, content=b"1", headers=signer.headers("PUT", url, b"1", {"if-none-match": "*"}))
            _raise_for(first, where, "a conditional write (If-None-Match)")
            try:
                second = await http.put(
                    url, content=b"2", headers=signer.headers("PUT", url, b"2", {"if-none-match": "*"})
                )
            finally:
                await http.delete(url, headers=signer.headers("DELETE", url, b"", {}))
        except httpx2.TransportError as e:
            raise ObjectStoreError(
                f"Cannot reach the object store at {shown}: {type(e).__name__}. {_CHECK_ENDPOINT}"
            ) from e
    if second.status_code in (409, 412):
        log.debug("%s honours conditional writes", where)
        return
    if second.is_success:
        raise ObjectStoreError(
            f"The object store behind {where} ignores conditional writes (If-None-Match): LanceDB's commits from "
            "several writers would silently overwrite each other and lose index writes. Use a store that supports "
            "them (AWS S3, MinIO, Cloudflare R2, moto_server 5.2), or lance's DynamoDB commit store (an "
            "s3+ddb://bucket/prefix?ddbTableName=… lance_uri)."
        )
    _raise_for(second, where, "a conditional write (If-None-Match)")


def _raise_for(response: httpx2.Response, where: str, what: str) -> None:
    if response.is_success:
        return
    match = _CODE.search(response.text)
    code = match.group(1) if match else f"HTTP {response.status_code}"
    if code == "NoSuchBucket" or (response.status_code == 404 and not match):
        raise ObjectStoreError(f"There is no {where}: create the bucket, or correct lance_uri.")
    if response.status_code in (401, 403):
        raise ObjectStoreError(f"The object store refused access to {where} ({code}). {_CHECK_CREDENTIALS}")
    if response.status_code in (400, 501) and code in ("NotImplemented", "InvalidArgument", "InvalidRequest"):
        raise ObjectStoreError(
            f"The object store behind {where} rejects {what} ({code}), which LanceDB needs for every commit. "
            "Use a store that supports conditional writes (AWS S3, MinIO, Cloudflare R2, moto_server 5.2)."
        )
    raise ObjectStoreError(f"The object store answered {code} for {where}. {_CHECK_ENDPOINT}")


class S3Signer:
    """AWS Signature Version 4 for S3 requests (unsigned query, payload hashed)."""

    def __init__(self, key_id: str, secret: str, region: str, options: dict[str, str]) -> None:
        self._key_id, self._secret, self._region = key_id, secret, region
        self._token = options.get("aws_session_token")

    def headers(self, method: str, url: str, body: bytes, extra: dict[str, str]) -> dict[str, str]:
        now = datetime.now(UTC)
        stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        parts = urlsplit(url)
        headers = {
            "host": parts.netloc,
            "x-amz-content-sha256": hashlib.sha256(body).hexdigest(),
            "x-amz-date": stamp,
            **extra,
        }
        if self._token:
            headers["x-amz-security-token"] = self._token
        names = sorted(headers)
        lines = [f"{n}:{headers[n].strip()}" for n in names]
        signed = ";".join(names)
        canonical = "\n".join([method, parts.path, "", *lines, "", signed, headers["x-amz-content-sha256"]])
        scope = f"{day}/{self._region}/s3/aws4_request"
        to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        key = f"AWS4{self._secret}".encode()
        for part in (day, self._region, "s3", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self._key_id}/{scope}, SignedHeaders={signed}, Signature={signature}"
        )
        return headers
