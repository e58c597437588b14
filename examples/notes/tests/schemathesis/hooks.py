"""Schemathesis hooks for the notes service (run by examples/notes/tests/schemathesis.rs).

Every generated request gets a valid HS256 bearer token minted here from NOTES_JWT_SECRET. Outside
the stateful phase each request has its own subject, so that the per-subject rate limits (10/min
on POST /notes) do not turn the run into a test of 429s; stateful sequences (create, then read,
then delete) keep one subject, because a note is visible to its owner only.
"""

import base64
import hashlib
import hmac
import itertools
import json
import os
import time

import schemathesis
from schemathesis.generation.meta import TestPhase

SECRET = os.environ["NOTES_JWT_SECRET"].encode()
ISSUER = os.environ.get("NOTES_JWT_ISSUER", "rampart-dev")
AUDIENCE = os.environ.get("NOTES_JWT_AUDIENCE", "notes")
_subjects = itertools.count()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(subject: str) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    now = int(time.time())
    claims = {"sub": subject, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 3600,
              "scope": "notes:read notes:write"}
    message = f"{header}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(SECRET, message.encode(), hashlib.sha256).digest()
    return f"{message}.{_b64(signature)}"


STATEFUL_TOKEN = token("schemathesis-stateful")


@schemathesis.auth(refresh_interval=None)
class NotesAuth:
    """A fresh token per request (see the module docs); schemathesis turns it off for the checks
    that send no or broken credentials, such as ignored_auth."""

    def get(self, case, context):
        meta = getattr(case, "meta", None)
        if meta is not None and meta.phase.name == TestPhase.STATEFUL:
            return STATEFUL_TOKEN
        return token(f"schemathesis-{next(_subjects)}")

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
