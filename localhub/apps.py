"""GitHub Apps on localhub, as GitHub authenticates them: an app signs a JSON Web Token (RS256) with its
private key, and with that JWT (and only with it) reads itself (`GET /app`), finds its installation on a
repository (`GET /repos/{owner}/{repo}/installation`) and mints an installation token
(`POST /app/installations/{id}/access_tokens`). The installation token acts as `<slug>[bot]` and may do exactly
what the app's permissions allow (the same enforcement as a workflow job's token); check runs it creates belong
to the app, and only that app may update them.
https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from localhub.errors import ApiError

JWT_MAX_LIFETIME_S = 600  # GitHub refuses a JWT that expires more than 10 minutes after it was issued
CLOCK_DRIFT_S = 60
TOKEN_LIFETIME_S = 3600
JWT_DOCS = "https://docs.github.com/rest"


@dataclass(frozen=True)
class App:
    """A registered GitHub App installed on the hub's repository."""

    id: int
    slug: str
    name: str
    permissions: Mapping[str, str]  # GitHub's app permission names: checks, contents, pull_requests, ...
    private_key_pem: bytes = field(repr=False)
    public_key_pem: bytes = field(repr=False)
    installation_id: int
    created_at: str

    @property
    def bot_login(self) -> str:
        return f"{self.slug}[bot]"

    def scopes(self) -> dict[str, str]:
        """The app's permissions as the scopes a token is checked against (`pull_requests` -> `pull-requests`)."""
        return {name.replace("_", "-"): level for name, level in self.permissions.items()}


def key_pair() -> tuple[bytes, bytes]:
    """A fresh RSA key pair (private PKCS#8 PEM, public PEM), as GitHub generates for an app."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def looks_like_jwt(credential: str) -> bool:
    return credential.count(".") == 2 and credential.startswith("eyJ")


def verify(apps: Mapping[int, App], token: str, now: float | None = None) -> App:
    """The app that signed `token`, or GitHub's 401: the issuer must be a known app (its id or client id), the
    signature its key's, and the token current and issued for at most 10 minutes."""
    import jwt

    try:
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise ApiError(401, "A JSON web token could not be decoded", documentation_url=JWT_DOCS) from None
    issuer = str(claims.get("iss", ""))
    app = next((a for a in apps.values() if issuer in (str(a.id), f"Iv1.{a.id}")), None)
    if app is None:
        raise ApiError(401, f"'Issuer' claim ('iss') must be an Integer (or a known client id); got {issuer!r}")
    try:
        jwt.decode(token, app.public_key_pem, algorithms=["RS256"], options={"verify_exp": False})
    except jwt.PyJWTError:
        raise ApiError(401, "A JSON web token could not be decoded", documentation_url=JWT_DOCS) from None
    clock = time.time() if now is None else now
    issued, expires = claims.get("iat"), claims.get("exp")
    if not isinstance(issued, int | float) or not isinstance(expires, int | float):
        raise ApiError(401, "'Issued at' and 'Expiration time' claims ('iat', 'exp') are required")
    if issued > clock + CLOCK_DRIFT_S:
        raise ApiError(401, "'Issued at' claim ('iat') must be an Integer representing a time in the past")
    if expires - issued > JWT_MAX_LIFETIME_S + CLOCK_DRIFT_S:
        raise ApiError(401, "'Expiration time' claim ('exp') is too far in the future")
    if expires < clock:
        raise ApiError(401, "'Expiration time' claim ('exp') must be a numeric value representing the future time")
    return app
