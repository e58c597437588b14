"""A third-party DPoP client of the notes service (RFC 9449), written with joserfc (the JOSE library
of the Authlib project) and requests: it makes its own P-256 key, gets a DPoP-bound token from
/oauth/token with a proof, calls GET /notes with the token and a fresh proof (signed again with
the server's nonce when it asks for one: RFC 9449 §9), then replays that proof. Prints JSON."""

import base64
import hashlib
import json
import os
import sys
import time
import uuid

import requests
from joserfc import jwt
from joserfc.jwk import ECKey

base = os.environ["NOTES_URL"].rstrip("/")
client_id = os.environ["CLIENT_ID"]
secret = os.environ["CLIENT_SECRET"]
key = ECKey.generate_key("P-256")


def proof(method, url, access_token=None, nonce=None):
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    claims = {"jti": str(uuid.uuid4()), "htm": method, "htu": url, "iat": int(time.time())}
    if nonce is not None:
        claims["nonce"] = nonce
    if access_token is not None:
        digest = hashlib.sha256(access_token.encode("ascii")).digest()
        claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return jwt.encode(header, claims, key)


token_url = base + "/oauth/token"


def ask_token(nonce=None):
    return requests.post(
        token_url,
        auth=(client_id, secret),
        data={"grant_type": "client_credentials"},
        headers={"DPoP": proof("POST", token_url, nonce=nonce)},
    )


grant = ask_token()
token_nonce_asked = None
if grant.status_code == 400 and grant.json().get("error") == "use_dpop_nonce":
    token_nonce_asked = [grant.status_code, grant.json()]
    grant = ask_token(grant.headers["DPoP-Nonce"])
grant.raise_for_status()
token = grant.json()
access_token = token["access_token"]
payload = json.loads(base64.urlsafe_b64decode(access_token.split(".")[1] + "=="))

notes_url = base + "/notes"
call = proof("GET", notes_url, access_token)
reply = requests.get(notes_url, headers={"Authorization": "DPoP " + access_token, "DPoP": call})
nonce_asked = reply.status_code == 401 and 'error="use_dpop_nonce"' in reply.headers.get("WWW-Authenticate", "")
if nonce_asked:
    call = proof("GET", notes_url, access_token, reply.headers["DPoP-Nonce"])
    reply = requests.get(notes_url, headers={"Authorization": "DPoP " + access_token, "DPoP": call})
replayed = requests.get(notes_url, headers={"Authorization": "DPoP " + access_token, "DPoP": call})
as_bearer = requests.get(notes_url, headers={"Authorization": "Bearer " + access_token})
json.dump(
    {
        "token_type": token["token_type"],
        "cnf_jkt": payload.get("cnf", {}).get("jkt"),
        "thumbprint": key.thumbprint(),
        "token_nonce_asked": token_nonce_asked,
        "nonce_asked": nonce_asked,
        "status": reply.status_code,
        "notes": reply.json(),
        "replayed": [replayed.status_code, replayed.headers.get("WWW-Authenticate")],
        "as_bearer": [as_bearer.status_code, as_bearer.headers.get("WWW-Authenticate")],
    },
    sys.stdout,
)
