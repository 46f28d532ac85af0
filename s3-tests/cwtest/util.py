"""Small shared helpers for test modules."""

import uuid

from botocore.exceptions import ClientError


# Lines that tests want printed in the terminal summary (measurements, not pass/fail).
REPORT_LINES: list[str] = []


def new_bucket_name(prefix="cw") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def err(exc: ClientError):
    """(error code, HTTP status) of a botocore ClientError."""
    return exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"]


def body_md5(streaming_body, block=1024 * 1024):
    """MD5 and length of a botocore StreamingBody, read in blocks."""
    import hashlib

    h = hashlib.md5()
    n = 0
    while True:
        b = streaming_body.read(block)
        if not b:
            break
        h.update(b)
        n += len(b)
    return h.hexdigest(), n
