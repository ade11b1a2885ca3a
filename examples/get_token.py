"""Get an access token from a Hygie FHIR API with SMART Backend Services, then use it.

1. Make a key pair (the private key stays with the client, mode 0600; the JWK Set is what the
   server's administrator registers)::

       python examples/get_token.py make-key --out lab-app
       # writes lab-app.private.pem and lab-app.jwks.json
       hygie clients add lab-app --jwks lab-app.jwks.json --scopes "system/Observation.rs"

2. Ask for a token (a JWT assertion signed with the private key, RS384 or ES384) and call the API::

       python examples/get_token.py token --base-url http://127.0.0.1:8080 \\
           --client-id <id printed by clients add> --key lab-app.private.pem \\
           --scope "system/Observation.rs" --get "/Observation?_count=1"

Spec: https://hl7.org/fhir/smart-app-launch/backend-services.html
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def make_key(out: str, algorithm: str) -> None:
    """Write ``out.private.pem`` (0600) and ``out.jwks.json`` (the public key to register)."""
    if algorithm == "ES384":
        private = ec.generate_private_key(ec.SECP384R1())
        public_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=3072)
        public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    kid = uuid.uuid4().hex[:16]
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key_path = Path(f"{out}.private.pem")
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    jwks = {"keys": [{**public_jwk, "kid": kid, "alg": algorithm, "use": "sig"}]}
    Path(f"{out}.jwks.json").write_text(json.dumps(jwks, indent=2) + "\n", "utf-8")
    print(f"wrote {key_path} (keep it private) and {out}.jwks.json (register it); kid {kid}")


def get_token(base_url: str, client_id: str, key_path: Path, scope: str) -> dict[str, object]:
    """Sign a client assertion and exchange it for an access token."""
    private = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    algorithm = "ES384" if isinstance(private, ec.EllipticCurvePrivateKey) else "RS384"
    token_url = f"{base_url.rstrip('/')}/auth/token"
    now = int(time.time())
    assertion = jwt.encode(
        {
            "iss": client_id,
            "sub": client_id,
            "aud": token_url,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
        },
        private,
        algorithm=algorithm,
    )
    response = httpx.post(
        token_url,
        data={
            "grant_type": "client_credentials",
            "scope": scope,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        },
        timeout=30,
    )
    answer: dict[str, object] = response.json()
    if response.status_code != 200:
        sys.exit(f"token refused ({response.status_code}): {answer}")
    return answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    keys = commands.add_parser("make-key", help="make a key pair for a new client")
    keys.add_argument("--out", required=True, help="file name prefix")
    keys.add_argument("--alg", choices=("ES384", "RS384"), default="ES384")
    token = commands.add_parser("token", help="get an access token (and optionally use it)")
    token.add_argument("--base-url", default="http://127.0.0.1:8080")
    token.add_argument("--client-id", required=True)
    token.add_argument("--key", type=Path, required=True, help="the client's private key (PEM)")
    token.add_argument("--scope", default="system/*.rs")
    token.add_argument("--get", help="a path to GET with the token, e.g. /Patient?_count=1")
    args = parser.parse_args()
    if args.command == "make-key":
        make_key(args.out, args.alg)
        return
    answer = get_token(args.base_url, args.client_id, args.key, args.scope)
    print(f"granted: {answer['scope']} for {answer['expires_in']} s")
    if args.get:
        response = httpx.get(
            f"{args.base_url.rstrip('/')}{args.get}",
            headers={"Authorization": f"Bearer {answer['access_token']}"},
            timeout=60,
        )
        print(response.status_code)
        print(json.dumps(response.json(), indent=2)[:4000])
    else:
        print(answer["access_token"])


if __name__ == "__main__":
    main()
