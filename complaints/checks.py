"""System checks on the clock policy."""

import datetime as dt

from django.conf import settings
from django.core.checks import Warning, register

from .calendar import calendar_for
from .clocks import OFCOM_ADR_DAYS


@register()
def adr_clock_later_than_ofcom(app_configs, **kwargs):
    """Ofcom's General Condition C4 lets a customer go to ADR 8 weeks after complaining. A policy
    that gives a later date makes customers wait longer than the regulator allows."""
    if settings.ADR_CLOCK == "8-weeks":
        return []
    calendar = calendar_for(settings.WORKING_DAYS_NATION)
    sample = dt.date(2026, 1, 5)
    ours = calendar.add_working_days(sample, 56)
    ofcom = sample + dt.timedelta(days=OFCOM_ADR_DAYS)
    if ours <= ofcom:
        return []
    return [
        Warning(
            f"ADR_CLOCK={settings.ADR_CLOCK!r} makes complaints eligible for CISAS about "
            f"{(ours - ofcom).days} days later than Ofcom's 8 weeks (General Condition C4).",
            hint="Set ADR_CLOCK=8-weeks to follow Ofcom's and CISAS's 8 calendar weeks.",
            id="complaints.W001",
        )
    ]
