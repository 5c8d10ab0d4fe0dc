"""API tokens: ``Authorization: Token <key>``, with the key kept only as a hash.

django-rest-knox stores a key's SHA-512 and its first 15 characters (to find it by), never the
key itself: a copy of the database, a backup or a read of the table does not hand anyone a
working credential for the API, which reads and changes customers' complaints. The key is shown
once, when it is made (``manage.py create_api_token``, or the admin's "Auth tokens" page).

Keys made before, by Django REST framework's token table, kept working: migration 0024 moved each
into knox's table as its hash and emptied the old one.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox import auth
from knox.models import AuthToken


class TokenAuthentication(auth.TokenAuthentication):
    """knox's, less its sweep of the account's other expired tokens on every request (a query a
    request): keys here have no expiry (``REST_KNOX["TOKEN_TTL"]`` is None), so it never found
    one. A key given an expiry in the admin is still refused, and removed, once it has passed."""

    def _cleanup_token(self, auth_token: AuthToken) -> bool:
        if auth_token.expiry is not None and auth_token.expiry < auth.timezone.now():
            auth_token.delete()
            return True
        return False


class TokenScheme(KnoxTokenScheme):
    """The OpenAPI schema's security scheme: knox's, under the name the schema has always used."""

    target_class = "complaints.api_auth.TokenAuthentication"
    name = "tokenAuth"


def api_token_issue(*, user: AbstractBaseUser, revoke_others: bool = False) -> str:
    """A new API key for ``user``, to be shown once; with ``revoke_others``, the account's other
    keys stop working in the same transaction."""
    with transaction.atomic():
        if revoke_others:
            AuthToken.objects.filter(user=user).delete()
        return AuthToken.objects.create(user=user)[1]
