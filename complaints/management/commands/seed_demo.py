"""Demo data for the embedded run: staff accounts in their groups and a spread of complaints.

Idempotent: accounts are created or reset to the demo passwords; each demo complaint is filed once
(matched by its demo e-mail address). Some are old enough that the sweeps flag overdue replies and
issue deadlock letters within a minute of the worker starting.
"""

from __future__ import annotations

import datetime as dt
import zlib

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from complaints import services
from complaints.models import Category, Channel, Complaint, ResponseMethod
from complaints.roles import AGENTS_GROUP, MANAGERS_GROUP, Actor

STAFF = [
    # username, password, first name, last name, group, superuser
    ("agent", "demo-agent-2026", "Alex", "Agent", AGENTS_GROUP, False),
    ("agent2", "demo-agent-2026", "Sam", "Stevens", AGENTS_GROUP, False),
    ("manager", "demo-manager-2026", "Morgan", "Price", MANAGERS_GROUP, False),
    ("admin", "demo-admin-2026", "Ada", "Admin", None, True),
]

# e-mail, name, category, channel, days ago received, description, escalate. A web-form complaint
# is received when the customer sends it: only the ones staff log (phone, e-mail, letter) are
# backdated.
DEMO_CASES = [
    (
        "jane.doe@example.com",
        "Jane Doe",
        Category.BILLING,
        Channel.WEB,
        0,
        "I was charged twice for my October bill.",
        False,
    ),
    (
        "raj.patel@example.com",
        "Raj Patel",
        Category.SERVICE_FAULT,
        Channel.PHONE,
        4,
        "My VoIP line drops every call after about ten minutes.",
        False,
    ),
    (
        "li.wei@example.com",
        "Li Wei",
        Category.NUMBER_PORTING,
        Channel.EMAIL,
        12,
        "My number port from my old provider has been pending for two weeks.",
        False,
    ),
    (
        "tom.hughes@example.com",
        "Tom Hughes",
        Category.CUSTOMER_SERVICE,
        Channel.LETTER,
        30,
        "Nobody called me back after I was promised a call three times.",
        False,
    ),
    (
        "amara.okafor@example.com",
        "Amara Okafor",
        Category.CONTRACT,
        Channel.EMAIL,
        40,
        "I was told I could leave without a fee, now I am being charged one.",
        True,
    ),
    (
        "eilidh.ross@example.com",
        "Eilidh Ross",
        Category.BILLING,
        Channel.PHONE,
        95,
        "Overcharged for international calls I never made.",
        True,
    ),
    (
        "conor.byrne@example.com",
        "Conor Byrne",
        Category.PROVISIONING_SECURITY,
        Channel.LETTER,
        120,
        "My handset was provisioned with someone else's account details.",
        False,
    ),
]


class Command(BaseCommand):
    help = "Create the demo staff accounts and demo complaints (safe to run again)."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        User = get_user_model()
        groups = {
            name: Group.objects.get_or_create(name=name)[0]
            for name in (AGENTS_GROUP, MANAGERS_GROUP)
        }
        users = {}
        for username, password, first, last, group, superuser in STAFF:
            user, _ = User.objects.get_or_create(username=username)
            user.first_name, user.last_name = first, last
            user.email = f"{username}@expresstelephony.example"
            user.is_staff = superuser  # the admin site is for administrators only
            user.is_superuser = superuser
            user.set_password(password)
            user.save()
            if group:
                user.groups.set([groups[group]])
            users[username] = user

        agent = Actor.staff(users["agent"])
        now = timezone.now()
        created = 0
        for email, name, category, channel, days_ago, description, escalate in DEMO_CASES:
            if Complaint.objects.filter(email=email).exists():
                continue
            filed = services.complaint_file(
                # A web-form complaint is the customer's own; staff log the phone, e-mail and
                # letter ones.
                by=Actor.customer() if channel == Channel.WEB else agent,
                customer_name=name,
                email=email,
                phone="07700 900123",
                postal_address="1 High Street\nHertford\nSG14 1AA",
                account_number=f"ET{zlib.crc32(email.encode()) % 1000000:06d}",
                category=category,
                description=description,
                channel=channel,
                received_at=now - dt.timedelta(days=days_ago) if days_ago else None,
                preferred_response=ResponseMethod.WRITTEN if days_ago % 2 else ResponseMethod.PHONE,
            )
            if escalate:
                services.complaint_escalate(
                    complaint=filed.complaint, by=agent, reason="Customer asked for the manager."
                )
            created += 1
        self.stdout.write(
            f"Demo ready: {len(STAFF)} staff accounts, {created} new demo complaint(s)."
        )
