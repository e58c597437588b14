"""A third-party client of the notes service, written as any Python user would: the OAuth 2.0
client-credentials flow with requests-oauthlib, then an authenticated GET /notes. Prints JSON."""

import json
import os
import sys

from oauthlib.oauth2 import BackendApplicationClient
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

base = os.environ["NOTES_URL"].rstrip("/")
client_id = os.environ["CLIENT_ID"]
secret = os.environ["CLIENT_SECRET"]

session = OAuth2Session(client=BackendApplicationClient(client_id=client_id))
token = session.fetch_token(token_url=base + "/oauth/token", auth=HTTPBasicAuth(client_id, secret))
reply = session.get(base + "/notes")
json.dump(
    {
        "token_type": token["token_type"],
        "scope": " ".join(token["scope"]) if isinstance(token["scope"], list) else token["scope"],
        "status": reply.status_code,
        "notes": reply.json(),
    },
    sys.stdout,
)
