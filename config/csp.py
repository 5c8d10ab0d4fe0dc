"""django-csp's middleware, with the policy of the settings built once a process.

django-csp builds the Content-Security-Policy header from the settings for every response, and
the report-only header too (a dataclass copied, each directive joined): 3 % of a web filing's
CPU, for the same header every time. Here a response that nothing changed gets the header built
once; a response whose view changed its policy (django-csp's decorators) or a page that used a
nonce gets django-csp's own work, as before. Changing the setting (in tests) builds it afresh.
"""

from __future__ import annotations

import functools
import http.client

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

# Set on a response by django-csp's decorators: its policy is its own.
PER_RESPONSE = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
)
DEBUG_EXEMPT = (http.client.INTERNAL_SERVER_ERROR, http.client.NOT_FOUND)


@functools.cache
def settings_policies() -> tuple[tuple[str, str, str, tuple[str, ...]], ...]:
    """(header, value, the response's exemption flag, excluded path prefixes) for each header the
    settings ask for, as django-csp would build them with nothing changed."""
    built = []
    for header, report_only, setting, exempt in (
        (HEADER, False, "CONTENT_SECURITY_POLICY", "_csp_exempt"),
        (HEADER_REPORT_ONLY, True, "CONTENT_SECURITY_POLICY_REPORT_ONLY", "_csp_exempt_ro"),
    ):
        value = build_policy(report_only=report_only)
        if value:
            prefixes = tuple(
                (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES") or ()
            )
            built.append((header, value, exempt, prefixes))
    return tuple(built)


@receiver(setting_changed)
def _forget(setting: str, **kwargs) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        settings_policies.cache_clear()


class CSPMiddleware(BaseCSPMiddleware):
    def process_response(self, request, response):
        if getattr(request, "_csp_nonce", None) is not None or any(
            getattr(response, name, None) is not None for name in PER_RESPONSE
        ):
            return super().process_response(request, response)
        if response.status_code in DEBUG_EXEMPT and settings.DEBUG:
            return response
        for header, value, exempt, prefixes in settings_policies():
            if (
                header not in response
                and not getattr(response, exempt, False)
                and not request.path_info.startswith(prefixes)
            ):
                response[header] = value
        # As django-csp: a nonce asked for once the header is written is an error, not a silent
        # gap in the policy.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
