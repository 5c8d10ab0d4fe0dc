from django.conf import settings

from .roles import staff_role


def company(request):
    """The company's name and contact details, shown in the same place on every page."""
    return {
        "company": settings.COMPANY,
        "cisas": settings.CISAS,
        "portal_role": staff_role(getattr(request, "user", None)),
    }
