"""The complaint, its state machine and its timeline.

The ``state`` field is protected: it changes only through the transition methods below, each called
from a service in ``services.py`` that also writes the ``ComplaintEvent`` in the same transaction.
Transition methods change the state and the fields that must change with it, nothing else.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce, Lower
from django.utils import timezone
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition

from . import clocks
from .calendar import WorkingDayCalendar
from .roles import Actor, Role


class State(models.TextChoices):
    CS_TEAM = "cs_team", "With our Customer Services Team"
    CS_MANAGER = "cs_manager", "With our Customer Services Manager"
    FORMAL_WRITTEN = "formal_written", "Formal written complaint"
    DEADLOCK = "deadlock", "Deadlock letter issued"
    ADR_REFERRED = "adr_referred", "Referred to CISAS"
    COURT = "court", "Court action"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    WITHDRAWN = "withdrawn", "Withdrawn"


# Cases that are still being worked; the stage clock runs in the first three.
OPEN_STATES = (
    State.CS_TEAM,
    State.CS_MANAGER,
    State.FORMAL_WRITTEN,
    State.DEADLOCK,
    State.ADR_REFERRED,
    State.COURT,
)
CLOCK_STATES = (State.CS_TEAM, State.CS_MANAGER, State.FORMAL_WRITTEN)
# The cases whose ADR clock still runs: with us at stage 1, 2 or 3 and no deadlock letter yet. The
# clock issues one on the ADR date (escalation.services.sweep_adr_clock); Complaint's
# adr_clock_running asks the same of one case.
ADR_CLOCK_RUNNING = Q(state__in=CLOCK_STATES, deadlock_issued_at__isnull=True)
STAGE_OF_STATE = {State.CS_TEAM: 1, State.CS_MANAGER: 2, State.FORMAL_WRITTEN: 3}


class Category(models.TextChoices):
    BILLING = "billing", "Billing"
    SERVICE_FAULT = "service_fault", "Service fault"
    NUMBER_PORTING = "number_porting", "Number porting"
    PROVISIONING_SECURITY = "provisioning_security", "Provisioning and security"
    CUSTOMER_SERVICE = "customer_service", "Customer service"
    CONTRACT = "contract", "Contract"
    OTHER = "other", "Other"


# What each category reads as in a sentence, "your complaint about ...", in letters and e-mails.
# (The labels are headings and list entries: "about other" or "about service fault" is no
# English.)
CATEGORY_ABOUT = {
    Category.BILLING: "your bill",
    Category.SERVICE_FAULT: "a fault with your service",
    Category.NUMBER_PORTING: "moving (porting) your phone number",
    Category.PROVISIONING_SECURITY: "how your phone equipment is set up and kept secure",
    Category.CUSTOMER_SERVICE: "our customer service",
    Category.CONTRACT: "your contract",
    Category.OTHER: "something else",
}


class Channel(models.TextChoices):
    WEB = "web", "Web form"
    PHONE = "phone", "Phone"
    EMAIL = "email", "E-mail"
    LETTER = "letter", "Letter"


class ResponseMethod(models.TextChoices):
    PHONE = "phone", "Phone call"
    WRITTEN = "written", "Written reply"


class Nation(models.TextChoices):
    ENGLAND_AND_WALES = "england-and-wales", "England and Wales"
    SCOTLAND = "scotland", "Scotland"
    NORTHERN_IRELAND = "northern-ireland", "Northern Ireland"


class AdrOutcome(models.TextChoices):
    UPHELD = "upheld", "Upheld"
    PARTLY_UPHELD = "partly_upheld", "Partly upheld"
    NOT_UPHELD = "not_upheld", "Not upheld"


def _default_nation() -> str:
    return settings.WORKING_DAYS_NATION


# --- Who may fire which transition (DESIGN.md, "The procedure as a state machine") -------------


def _roles(*roles: Role):
    def check(instance: Complaint, actor: Actor) -> bool:
        return getattr(actor, "role", None) in roles

    return check


def no_deadlock_letter_yet(instance: Complaint) -> bool:
    """One deadlock letter per complaint: a case reopened after deadlock is already eligible."""
    return instance.deadlock_issued_at is None


def _may_resolve(instance: Complaint, actor: Actor) -> bool:
    # Agents work stage 1 only; managers may resolve at any open stage.
    role = getattr(actor, "role", None)
    return role == Role.MANAGER or (role == Role.AGENT and instance.state == State.CS_TEAM)


def _may_reopen(instance: Complaint, actor: Actor) -> bool:
    role = getattr(actor, "role", None)
    if role in (Role.AGENT, Role.MANAGER):
        return True
    # A CISAS decision the customer accepted settles the complaint: they cannot reopen it.
    return (
        role == Role.CUSTOMER
        and instance.adr_accepted_on is None
        and instance.reopen_allowed_until is not None
        and (timezone.now() < instance.reopen_allowed_until)
    )


def _ran_out(
    due: dt.datetime | None,
    replied: dt.datetime | None,
    withdrawn: dt.datetime | None,
    now: dt.datetime | None,
) -> bool:
    """A reply clock finished unanswered: its deadline passed with no reply, and the customer did
    not withdraw before it (escalation.reports.ReplyClock.ran_out, for one case)."""
    return (
        replied is None
        and due is not None
        and due <= (now or timezone.now())
        and not (withdrawn is not None and withdrawn < due)
    )


def _in_time(due: dt.datetime | None, replied: dt.datetime | None) -> bool | None:
    """Whether a reply came by its deadline (None while there is none)."""
    if replied is None or due is None:
        return None
    return replied <= due


class Complaint(ConcurrentTransitionMixin, models.Model):
    # Unique through Meta.constraints (complaints_complaint_reference_key), not unique=True.
    reference = models.CharField(max_length=20, editable=False)

    customer_name = models.CharField(max_length=200)
    # Blank for a customer with no e-mail address, who complained by phone or letter: letters go
    # to them by post (services.complaint_file asks for one or the other).
    email = models.EmailField(max_length=254, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    postal_address = models.TextField(blank=True)
    account_number = models.CharField(max_length=40, blank=True)
    nation = models.CharField(max_length=20, choices=Nation.choices, default=_default_nation)

    category = models.CharField(max_length=32, choices=Category.choices)
    description = models.TextField()
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.WEB)
    received_at = models.DateTimeField()
    preferred_response = models.CharField(
        max_length=10, choices=ResponseMethod.choices, default=ResponseMethod.PHONE
    )
    # Ofcom General Condition C5: customers in vulnerable circumstances are identified and helped.
    vulnerable = models.BooleanField(default=False)
    vulnerability_notes = models.TextField(blank=True)

    state = FSMField(max_length=20, choices=State.choices, default=State.CS_TEAM, protected=True)

    # The stage clock: restarted on filing and on each escalation, stopped by a reply.
    stage_started_at = models.DateTimeField()
    response_due_at = models.DateTimeField(null=True, blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    overdue_flagged_at = models.DateTimeField(null=True, blank=True)
    # The first reply the customer was owed, kept when the stage clock restarts (an escalation,
    # a formal complaint, a reopening): stage 1's due instant, and the first reply if there was
    # one by then. Null until the first restart: while the clock has never restarted, the
    # first reply is the stage's own (``first_reply_due_at``, ``first_replied_at``), so nothing
    # is written at filing and nothing had to be filled in for the cases already filed. The
    # reports' "first reply" figure reads them; nothing filters by them alone (the reports read
    # a period's rows by complaint_received_idx), so no index.
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    first_responded_at = models.DateTimeField(null=True, blank=True)
    # Since when the customer has written (a message, evidence, "please reply in writing") with
    # no answer from staff yet: a message, a reply or a step taken by staff clears it. The queues
    # and the case page show it; nothing filters or sorts by it, so it has no index.
    customer_wrote_at = models.DateTimeField(null=True, blank=True)

    # The ADR clock: set once at filing, never moved.
    adr_eligible_date = models.DateField()
    deadlock_issued_at = models.DateTimeField(null=True, blank=True)
    cisas_reference = models.CharField(max_length=60, blank=True)
    adr_referred_on = models.DateField(null=True, blank=True)
    adr_outcome = models.CharField(max_length=20, choices=AdrOutcome.choices, blank=True)
    adr_remedy = models.TextField(blank=True)
    adr_accepted_on = models.DateField(null=True, blank=True)
    remedy_due_date = models.DateField(null=True, blank=True)
    remedy_completed_at = models.DateTimeField(null=True, blank=True)
    remedy_overdue_flagged_at = models.DateTimeField(null=True, blank=True)
    court_started_on = models.DateField(null=True, blank=True)

    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_summary = models.TextField(blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    # No index of its own: complaint_assignee_idx begins with it and serves every lookup by it
    # ("assigned to me", and the SET NULL when an account is deleted). Each index more is written
    # by every filing and every change of state.
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_complaints",
        db_index=False,
    )
    # SHA-256 of the customer's tracking secret; the secret itself is shown once and e-mailed.
    tracking_token_hash = models.CharField(max_length=64, blank=True, editable=False)

    # Personal data (see privacy.py): a manager's legal hold keeps it past the retention period;
    # ``anonymised_at`` says when it was removed (retention, or erasure on request).
    # Defaults in the database too, so rows written by SQL (the bench's seeding, bulk inserts)
    # need not name these columns.
    legal_hold = models.BooleanField(default=False, db_default=False)
    legal_hold_reason = models.CharField(max_length=500, blank=True, default="", db_default="")
    anonymised_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # One complaint per reference, and the index every lookup of a whole reference uses
            # (the tracking link, the queue's search, the API). A constraint, not the field's
            # unique=True: on PostgreSQL that also builds a second index, for LIKE 'prefix%',
            # which nothing asks (a search for part of a reference uses complaint_ref_trgm_idx)
            # and which every filing and every change of state wrote to. Named as unique=True
            # named it, so databases made before keep the same index (migration 0031).
            models.UniqueConstraint(
                fields=["reference"], name="complaints_complaint_reference_key"
            ),
        ]
        indexes = [
            # Agents' queue: open stage-1 cases ordered by reply due date
            # (WHERE state = 'cs_team' ORDER BY response_due_at).
            models.Index(fields=["state", "response_due_at"], name="complaint_queue_idx"),
            # Overdue sweep: WHERE state IN (clock states) AND responded_at IS NULL AND
            # overdue_flagged_at IS NULL AND response_due_at <= now. Partial, so it holds only the
            # few cases whose clock is running and not yet flagged.
            models.Index(
                fields=["response_due_at"],
                name="complaint_overdue_sweep_idx",
                condition=Q(
                    state__in=CLOCK_STATES,
                    responded_at__isnull=True,
                    overdue_flagged_at__isnull=True,
                ),
            ),
            # ADR sweep: WHERE state IN (clock states) AND deadlock_issued_at IS NULL AND
            # adr_eligible_date <= today ORDER BY adr_eligible_date, id (the order it claims in,
            # so a batch reads one batch of index entries, not every case due that day). Also the
            # managers' "ADR date soon" list and its count, WHERE ... AND (nation = ? AND
            # adr_eligible_date <= ?) OR ..., from the index alone (hence nation included).
            models.Index(
                fields=["adr_eligible_date", "id"],
                name="complaint_adr_sweep_idx",
                condition=ADR_CLOCK_RUNNING,
                include=["nation"],
            ),
            # Remedy sweep: WHERE remedy_due_date < today AND remedy_completed_at IS NULL AND
            # remedy_overdue_flagged_at IS NULL (the few accepted CISAS remedies outstanding).
            models.Index(
                fields=["remedy_due_date"],
                name="complaint_remedy_sweep_idx",
                condition=Q(
                    remedy_due_date__isnull=False,
                    remedy_completed_at__isnull=True,
                    remedy_overdue_flagged_at__isnull=True,
                ),
            ),
            # Auto-close sweep: WHERE state = 'resolved' AND resolved_at <= now - 8 weeks, leaving
            # out cases whose accepted CISAS remedy is still outstanding (they stay open).
            models.Index(
                fields=["resolved_at"],
                name="complaint_autoclose_idx",
                condition=Q(state=State.RESOLVED)
                & ~Q(remedy_due_date__isnull=False, remedy_completed_at__isnull=True),
            ),
            # Staff queues filtered by "assigned to me", ordered by due date.
            models.Index(fields=["assigned_to", "response_due_at"], name="complaint_assignee_idx"),
            # Reports over a date range of receipt (escalation/reports.py): WHERE received_at >= ?
            # AND received_at < ?, counted by channel, category, reply in time, resolution, CISAS
            # and age from the index alone (the included columns are the ones they read), so a
            # year of a million complaints is never read from the table itself.
            models.Index(
                fields=["received_at"],
                name="complaint_received_idx",
                include=[
                    "id",
                    "channel",
                    "category",
                    "state",
                    "nation",
                    "responded_at",
                    "response_due_at",
                    "withdrawn_at",
                    "resolved_at",
                    "adr_referred_on",
                    "adr_outcome",
                    "adr_accepted_on",
                    "court_started_on",
                ],
            ),
            # Staff queues' "waiting for a reply" segments (complaints/keyset.py) over open cases:
            # WHERE state IN (open) AND responded_at IS NULL AND response_due_at >= ?
            # ORDER BY response_due_at, id LIMIT 26; the managers' "overdue" section and its count.
            models.Index(
                fields=["response_due_at", "id"],
                name="complaint_awaiting_reply_idx",
                condition=Q(state__in=OPEN_STATES, responded_at__isnull=True),
                include=["state"],
            ),
            # Open cases as the agents' queue reads them: its replied segment (WHERE state IN
            # (open) AND responded_at IS NOT NULL ORDER BY response_due_at, id) and its count under
            # any filter but search, from the index alone: the included columns are the ones its
            # filters test (and no more, so the sweeps' updates have less of it to rewrite).
            models.Index(
                fields=["response_due_at", "id"],
                name="complaint_open_queue_idx",
                condition=Q(state__in=OPEN_STATES),
                include=[
                    "state",
                    "responded_at",
                    "category",
                    "channel",
                    "assigned_to",
                    "vulnerable",
                ],
            ),
            # The agents' queue with "All cases, open or not": ORDER BY response_due_at, id over
            # the whole table (the replied segment; see complaint_awaiting_reply_idx).
            models.Index(fields=["response_due_at", "id"], name="complaint_due_idx"),
            # Managers' "deadlock", "with CISAS" and "in court" sections: WHERE state = ?
            # ORDER BY <the date that matters there>, id LIMIT 26, from any row on.
            models.Index(
                fields=["deadlock_issued_at", "id"],
                name="complaint_deadlock_section_idx",
                condition=Q(state=State.DEADLOCK),
            ),
            models.Index(
                fields=["adr_referred_on", "id"],
                name="complaint_cisas_section_idx",
                condition=Q(state=State.ADR_REFERRED),
            ),
            models.Index(
                fields=["court_started_on", "id"],
                name="complaint_court_section_idx",
                condition=Q(state=State.COURT),
            ),
            # Managers' "remedies due" section and its count: WHERE remedy_due_date IS NOT NULL
            # AND remedy_completed_at IS NULL ORDER BY remedy_due_date, id.
            models.Index(
                fields=["remedy_due_date", "id"],
                name="complaint_remedies_due_idx",
                condition=Q(remedy_due_date__isnull=False, remedy_completed_at__isnull=True),
            ),
            # The staff queue's search (selectors.search_q): UPPER(column::text) LIKE '%TEXT%' on
            # reference, customer_name, email and account_number, which no B-tree can serve:
            # trigram indexes (pg_trgm) complaint_{ref,name,email,account}_trgm_idx find one
            # among a million cases without reading them all. Created by migration 0009 on
            # PostgreSQL only and kept out of the model state, so that SQLite (the embedded demo),
            # which rebuilds the table on every change of a column, never tries to create them.
            # Their pending lists are kept short (migration 0013), or searches slow down as
            # complaints are filed. complaint_phone_trgm_idx (migration 0019) is the same for the
            # phone number's digits (selectors.phone_q).
            # Retention sweep: WHERE state IN ('closed', 'withdrawn') AND anonymised_at IS NULL
            # AND NOT legal_hold AND COALESCE(closed_at, withdrawn_at) <= cutoff ORDER BY that.
            # Partial, so cases already anonymised or on hold drop out of it.
            models.Index(
                Coalesce("closed_at", "withdrawn_at"),
                "id",
                name="complaint_retention_idx",
                condition=Q(
                    state__in=(State.CLOSED, State.WITHDRAWN),
                    anonymised_at__isnull=True,
                    legal_hold=False,
                ),
            ),
            # Subject access export and erasure: one customer's complaints,
            # WHERE lower(email) = lower(?); and the staff queue's search by an address or its
            # beginning (selectors.search_q), WHERE lower(email) LIKE 'text%'. On PostgreSQL the
            # index is built with text_pattern_ops (migration 0014), which serves both: the
            # database's collation is not "C", so a default B-tree cannot serve LIKE.
            models.Index(Lower("email"), name="complaint_email_idx"),
        ]

    def __str__(self) -> str:
        return self.reference

    def reload(self, *, for_update: bool = False) -> None:
        """Read the case again from the database, in place; ``for_update``, inside a transaction,
        also locks its row until that ends (``FOR NO KEY UPDATE``: events, letters and e-mails
        that other transactions add to the case do not wait for it). Transitions run on the row
        so read (services.fire_transition).

        Use this, not ``refresh_from_db()``: django-fsm-2's ``refresh_from_db`` switches the
        state field's protection off and on again on the field object that every thread shares,
        so two threads refreshing at once can trip each other ("Direct state modification is not
        allowed"), which is exactly what happens when concurrent staff actions collide. This reads
        a fresh row and copies its values in, as the FSM's own setter does."""
        rows = type(self)._base_manager
        if for_update:
            rows = rows.select_for_update(no_key=True)
        fresh = rows.get(pk=self.pk)
        for field in self._meta.concrete_fields:
            self.__dict__[field.attname] = fresh.__dict__[field.attname]
        self._state.fields_cache.clear()
        self._update_initial_state()

    # --- Derived from stored fields --------------------------------------------------------

    @property
    def stage(self) -> int | None:
        return STAGE_OF_STATE.get(self.state)

    @property
    def received_date(self) -> dt.date:
        return clocks.london_date(self.received_at)

    @property
    def response_due_date(self) -> dt.date | None:
        return clocks.due_date(self.response_due_at)

    @property
    def category_about(self) -> str:
        """The category as it reads after "your complaint about"."""
        return CATEGORY_ABOUT.get(self.category, self.get_category_display().lower())

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def awaiting_reply(self) -> bool:
        """The stage's reply clock is running: in stage 1, 2 or 3, and no reply recorded in it.
        Only then does the case page give a reply due date and the days left, the queues their
        days left, the API a ``response_due_date``, and the customer the offer of a written
        reply."""
        return self.state in CLOCK_STATES and self.responded_at is None

    def is_overdue(self, now: dt.datetime | None = None) -> bool:
        return (
            self.awaiting_reply
            and self.response_due_at is not None
            and self.response_due_at <= (now or timezone.now())
        )

    @property
    def adr_clock_running(self) -> bool:
        """The ADR clock will issue the deadlock letter on the ADR date (or at its next run, a
        minute at most, once past it): ``ADR_CLOCK_RUNNING``, for this case."""
        return self.state in CLOCK_STATES and self.deadlock_issued_at is None

    def ran_out_unanswered(self, now: dt.datetime | None = None) -> bool:
        """The stage's reply clock finished with no reply: its due date passed unanswered. A
        case withdrawn before its reply was due did not run out (the same rule as the figures'
        ``escalation.reports.LATEST_STAGE``)."""
        return _ran_out(self.response_due_at, self.responded_at, self.withdrawn_at, now)

    @property
    def withdrawn_before_reply_due(self) -> bool:
        """Withdrawn, unanswered, while the stage's reply was not yet due."""
        return (
            self.responded_at is None
            and self.withdrawn_at is not None
            and self.response_due_at is not None
            and self.withdrawn_at < self.response_due_at
        )

    @property
    def answered_in_time(self) -> bool | None:
        """Whether the stage's reply came by its due date (None while there is none)."""
        return _in_time(self.response_due_at, self.responded_at)

    @property
    def cisas_deadline(self) -> dt.date | None:
        if self.deadlock_issued_at is None:
            return None
        return clocks.cisas_deadline(clocks.london_date(self.deadlock_issued_at))

    def cisas_window_passed(self, today: dt.date) -> bool:
        """Whether the 12 months in which CISAS takes the complaint after its deadlock letter
        have passed (the deadline is the last day it does)."""
        deadline = self.cisas_deadline
        return deadline is not None and today > deadline

    @property
    def reopen_allowed_until(self) -> dt.datetime | None:
        if self.resolved_at is None:
            return None
        return self.resolved_at + dt.timedelta(weeks=settings.REOPEN_WEEKS)

    @property
    def reopen_last_date(self) -> dt.date | None:
        """The last London day the customer has in full to reopen: the date pages and e-mails
        give as "you can reopen it until". The rule ends partway through the next day, at the
        time of day the case was resolved, so giving that day would promise hours it does not."""
        until = self.reopen_allowed_until
        if until is None:
            return None
        return clocks.london_date(until) - dt.timedelta(days=1)

    def start_stage_clock(self, at: dt.datetime, *, cal: WorkingDayCalendar | None = None) -> None:
        """Start a 15-working-day reply clock for the stage entered at ``at``, keeping the first
        reply's deadline and time (see ``first_response_due_at``) the first time it restarts."""
        if self.response_due_at is not None:  # a restart, not the filing
            if self.first_response_due_at is None:
                self.first_response_due_at = self.response_due_at
            if self.first_responded_at is None:
                self.first_responded_at = self.responded_at
        self.stage_started_at = at
        self.response_due_at = clocks.response_due_at(at, self.nation, cal=cal)
        self.responded_at = None
        self.overdue_flagged_at = None

    @property
    def first_reply_due_at(self) -> dt.datetime | None:
        """When the customer's first reply was due: stage 1's deadline."""
        return self.first_response_due_at or self.response_due_at

    @property
    def first_replied_at(self) -> dt.datetime | None:
        """When the customer first got a reply, at any stage (None while they have had none)."""
        return self.first_responded_at or self.responded_at

    def first_reply_ran_out(self, now: dt.datetime | None = None) -> bool:
        """No reply by stage 1's deadline, and none yet: ``ran_out_unanswered`` for the first
        reply (the same rule as the figures' ``escalation.reports.FIRST_REPLY``)."""
        return _ran_out(self.first_reply_due_at, self.first_replied_at, self.withdrawn_at, now)

    @property
    def first_reply_due_date(self) -> dt.date | None:
        return clocks.due_date(self.first_reply_due_at)

    @property
    def first_reply_in_time(self) -> bool | None:
        """Whether the first reply came by stage 1's deadline (None while there is none), as
        the reports count it (escalation.reports.FIRST_REPLY)."""
        return _in_time(self.first_reply_due_at, self.first_replied_at)

    def answer_stage(self, at: dt.datetime) -> None:
        """A resolution or a deadlock letter is the company's answer: it stops the stage clock.
        The due instant stays, so reports can tell whether the answer came in time."""
        if self.responded_at is None:
            self.responded_at = at

    # --- Transitions: state and the fields that change with it; no side effects -------------

    @transition(
        field=state,
        source=State.CS_TEAM,
        target=State.CS_MANAGER,
        permission=_roles(Role.CUSTOMER, Role.AGENT, Role.MANAGER),
    )
    def escalate_to_manager(self, *, at: dt.datetime) -> None:
        self.start_stage_clock(at)

    @transition(
        field=state,
        source=State.CS_MANAGER,
        target=State.FORMAL_WRITTEN,
        permission=_roles(Role.CUSTOMER, Role.AGENT, Role.MANAGER),
    )
    def make_formal_complaint(
        self, *, at: dt.datetime, received_at: dt.datetime | None = None
    ) -> None:
        """``received_at``: when the customer's letter or e-mail reached us, if staff record it
        later; the stage's 15 working days run from then, as a complaint's first ones do."""
        self.start_stage_clock(received_at or at)
        # A formal written complaint is answered in writing, whatever was asked before.
        self.preferred_response = ResponseMethod.WRITTEN

    @transition(
        field=state,
        source=CLOCK_STATES,
        target=State.DEADLOCK,
        conditions=[no_deadlock_letter_yet],
        permission=_roles(Role.MANAGER, Role.SYSTEM),
    )
    def issue_deadlock_letter(self, *, at: dt.datetime, by_clock: bool = False) -> None:
        """The manager's deadlock letter, with the company's final position, answers the stage.
        The one the ADR clock sends (``by_clock``) says only that time has run out: it stops the
        stage's clock unanswered, so a stage that had no reply counts as late once it was due."""
        self.deadlock_issued_at = at
        if not by_clock:
            self.answer_stage(at)

    @transition(
        field=state,
        source=State.DEADLOCK,
        target=State.ADR_REFERRED,
        permission=_roles(Role.MANAGER),
    )
    def refer_to_adr(self, *, at: dt.datetime, cisas_reference: str, referred_on: dt.date) -> None:
        self.cisas_reference = cisas_reference
        self.adr_referred_on = referred_on

    @transition(
        field=state,
        source=State.ADR_REFERRED,
        target=RETURN_VALUE(State.RESOLVED, State.CLOSED),
        permission=_roles(Role.MANAGER),
    )
    def record_adr_decision(
        self,
        *,
        at: dt.datetime,
        outcome: str,
        remedy: str,
        accepted_on: dt.date | None,
    ) -> str:
        """Accepted by the customer: resolved, with the remedy due in 20 working days when CISAS
        upheld the complaint in whole or in part (a complaint not upheld asks nothing of us).
        Rejected: closed (the customer keeps the right to go to court)."""
        self.adr_outcome = outcome
        self.adr_remedy = remedy
        self.adr_accepted_on = accepted_on
        if accepted_on is not None:
            if outcome != AdrOutcome.NOT_UPHELD:
                self.remedy_due_date = clocks.remedy_due_date(accepted_on, self.nation)
            self.resolved_at = at
            return State.RESOLVED
        self.closed_at = at
        return State.CLOSED

    @transition(
        field=state,
        source=(State.DEADLOCK, State.ADR_REFERRED),
        target=State.COURT,
        permission=_roles(Role.MANAGER),
    )
    def start_court_action(self, *, at: dt.datetime, started_on: dt.date) -> None:
        self.court_started_on = started_on

    @transition(field=state, source=OPEN_STATES, target=State.RESOLVED, permission=_may_resolve)
    def resolve(self, *, at: dt.datetime, summary: str) -> None:
        self.resolved_at = at
        self.resolution_summary = summary
        self.answer_stage(at)

    @transition(
        field=state,
        source=State.RESOLVED,
        target=RETURN_VALUE(State.CS_MANAGER, State.FORMAL_WRITTEN),
        permission=_may_reopen,
    )
    def reopen(self, *, at: dt.datetime, formal: bool = False) -> str:
        """Back to the manager with a new reply clock: at stage 2, or at stage 3 when the case had
        reached a formal written complaint (``formal``), whose answer told the customer that if
        still unhappy they would get a deadlock letter, not the procedure over again."""
        self.resolved_at = None
        self.start_stage_clock(at)
        if formal:
            # A formal written complaint is answered in writing (as in make_formal_complaint).
            self.preferred_response = ResponseMethod.WRITTEN
            return State.FORMAL_WRITTEN
        return State.CS_MANAGER

    @transition(
        field=state,
        source=State.RESOLVED,
        target=State.CLOSED,
        permission=_roles(Role.MANAGER, Role.SYSTEM),
    )
    def close(self, *, at: dt.datetime) -> None:
        self.closed_at = at

    @transition(
        field=state,
        source=OPEN_STATES,
        target=State.WITHDRAWN,
        permission=_roles(Role.CUSTOMER, Role.AGENT, Role.MANAGER),
    )
    def withdraw(self, *, at: dt.datetime) -> None:
        self.withdrawn_at = at


TRANSITION_NAMES = (
    "escalate_to_manager",
    "make_formal_complaint",
    "issue_deadlock_letter",
    "refer_to_adr",
    "record_adr_decision",
    "start_court_action",
    "resolve",
    "reopen",
    "close",
    "withdraw",
)


class EventKind(models.TextChoices):
    FILED = "filed", "Complaint received"
    TRANSITION = "transition", "Status changed"
    REPLY = "reply", "Reply given"
    MESSAGE = "message", "Message"
    NOTE = "note", "Internal note"
    ASSIGNMENT = "assignment", "Assigned"
    ATTACHMENT = "attachment", "File added"
    LETTER = "letter", "Letter posted"  # to the customer's address (services.letter_mark_posted)
    OVERDUE = "overdue", "Reply overdue"
    REMEDY = "remedy", "CISAS remedy"
    LINK = "link", "Tracking link sent"
    PRIVACY = "privacy", "Personal data"


class ComplaintEventQuerySet(models.QuerySet):
    """For append-only records (the timeline, the log of views): no bulk update or delete."""

    def update(self, **kwargs):
        raise PermissionError(f"{self.model.__name__} records are append-only.")

    def delete(self):
        raise PermissionError(f"{self.model.__name__} records are append-only.")


class ComplaintEvent(models.Model):
    """One line of a complaint's timeline. Append-only: written once, never changed or removed."""

    # No index of its own: event_timeline_idx begins with it (a complaint's events).
    complaint = models.ForeignKey(
        Complaint, on_delete=models.PROTECT, related_name="events", db_index=False
    )
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_role = models.CharField(max_length=10, choices=[(r.value, r.value) for r in Role])
    # The actor's name when they acted, so renaming or reusing an account never rewrites who did
    # what. Blank for the customer and the system, and on events written before it was kept.
    actor_name = models.CharField(max_length=300, blank=True, default="", db_default="")
    transition = models.CharField(max_length=40, blank=True)
    from_state = models.CharField(max_length=20, choices=State.choices, blank=True)
    to_state = models.CharField(max_length=20, choices=State.choices, blank=True)
    customer_visible = models.BooleanField(default=True)
    text = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ComplaintEventQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # The case page and the API timeline: WHERE complaint_id = ? ORDER BY created_at, id.
            models.Index(fields=["complaint", "created_at", "id"], name="event_timeline_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.complaint_id} {self.kind} {self.created_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise PermissionError("The complaint timeline is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("The complaint timeline is append-only.")

    @property
    def replied_at(self) -> dt.datetime | None:
        """For a reply, when it was given, which for a phone call logged afterwards is earlier
        than the event (``complaint_record_reply`` keeps it in the event's data)."""
        value = self.data.get("replied_at") if self.kind == EventKind.REPLY else None
        return dt.datetime.fromisoformat(value) if value else None

    @property
    def received_at(self) -> dt.datetime | None:
        """For a formal written complaint staff recorded after it came in, when it reached us
        (``complaint_make_formal`` keeps it in the event's data)."""
        value = self.data.get("received_at") if self.transition == "make_formal_complaint" else None
        return dt.datetime.fromisoformat(value) if value else None


class CaseView(models.Model):
    """Who from the staff looked at whose complaint, when and how: the audit trail of reads.
    Append-only, like the timeline."""

    class Via(models.TextChoices):
        PAGE = "page", "Case page"
        API = "api", "API"
        LETTER = "letter", "Letter downloaded"
        FILE = "file", "Evidence downloaded"
        EXPORT = "export", "Subject access export"
        ADMIN = "admin", "Admin page"

    # Neither has an index of its own: caseview_complaint_idx and caseview_viewer_idx begin with
    # them. A row is written for every case page a member of staff opens.
    complaint = models.ForeignKey(
        Complaint, on_delete=models.PROTECT, related_name="views", db_index=False
    )
    viewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    via = models.CharField(max_length=10, choices=Via.choices)
    viewed_at = models.DateTimeField(default=timezone.now)

    objects = ComplaintEventQuerySet.as_manager()

    class Meta:
        indexes = [
            # An auditor's question: who looked at this complaint (WHERE complaint_id = ? ORDER BY
            # viewed_at).
            models.Index(fields=["complaint", "viewed_at"], name="caseview_complaint_idx"),
            # And: what did this person look at (WHERE viewer_id = ? ORDER BY viewed_at).
            models.Index(fields=["viewer", "viewed_at"], name="caseview_viewer_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.viewer_id} viewed {self.complaint_id} ({self.via})"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise PermissionError("The record of who viewed a complaint is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("The record of who viewed a complaint is append-only.")


class ReferenceCounter(models.Model):
    """The last reference number handed out per year (CMP-<year>-<number>)."""

    year = models.PositiveIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class FilingKey(models.Model):
    """The ``Idempotency-Key`` an API client sent with a complaint it logged. The same request sent
    again with the same key (a retry after a timeout or a dropped connection) gets the complaint
    it filed the first time, not a second complaint and a second acknowledgement to the customer.
    Kept with the complaint."""

    # No index of its own: one_complaint_per_filing_key's begins with it.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    key = models.CharField(max_length=200)
    # SHA-256 of the request's body (its JSON with sorted keys): the same key with another body is
    # a mistake in the client, refused rather than answered with a complaint it did not describe.
    fingerprint = models.CharField(max_length=64)
    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # Two copies of one request at once: the second's INSERT waits on this index for the
            # first's transaction, then fails, and it answers with the first's complaint.
            # Also the lookup by (user, key) before filing.
            models.UniqueConstraint(fields=["user", "key"], name="one_complaint_per_filing_key"),
        ]

    def __str__(self) -> str:
        return f"{self.key} -> {self.complaint_id}"


class ClosureDay(models.Model):
    """A company-wide non-working day (e.g. the office closed between Christmas and New Year)."""

    date = models.DateField(unique=True)
    reason = models.CharField(max_length=200)

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date:%d %b %Y}: {self.reason}"


class LetterKind(models.TextChoices):
    ACKNOWLEDGEMENT = "acknowledgement", "Acknowledgement"
    WRITTEN_REPLY = "written_reply", "Written reply"
    DEADLOCK = "deadlock", "Deadlock letter"


def letter_path(letter: Letter, filename: str) -> str:
    return f"letters/{letter.complaint.reference}/{letter.kind}-{letter.pk}.pdf"


class Letter(models.Model):
    """A letter to the customer. Its content is fixed when it is issued (``context``); the PDF is
    rendered from that afterwards, once, by a task, and stored with its SHA-256."""

    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, related_name="letters")
    kind = models.CharField(max_length=20, choices=LetterKind.choices)
    context = models.JSONField()
    issued_at = models.DateTimeField(default=timezone.now)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    pdf = models.FileField(upload_to=letter_path, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    rendered_at = models.DateTimeField(null=True, blank=True)
    # A customer who gives a postal address gets our letters by post as well as by e-mail: set
    # when the letter is issued to such a customer, and the posting recorded by staff.
    to_post = models.BooleanField(default=False)
    posted_at = models.DateTimeField(null=True, blank=True)
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["issued_at", "id"]
        constraints = [
            # However often the ADR sweep runs or retries, a complaint has one deadlock letter and
            # one acknowledgement; a second INSERT fails instead of sending a second letter.
            models.UniqueConstraint(
                fields=["complaint"],
                condition=Q(kind="deadlock"),
                name="one_deadlock_letter_per_complaint",
            ),
            models.UniqueConstraint(
                fields=["complaint"],
                condition=Q(kind="acknowledgement"),
                name="one_acknowledgement_per_complaint",
            ),
        ]
        indexes = [
            # The letter sweep: WHERE rendered_at IS NULL (the few letters not yet rendered).
            models.Index(
                fields=["issued_at"],
                name="letter_unrendered_idx",
                condition=Q(rendered_at__isnull=True),
            ),
            # The letters to post, oldest first: WHERE to_post AND posted_at IS NULL ORDER BY
            # issued_at (a few days' letters among millions).
            models.Index(
                fields=["issued_at", "id"],
                name="letter_to_post_idx",
                condition=Q(to_post=True, posted_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.complaint_id}"

    @property
    def awaiting_post(self) -> bool:
        return self.to_post and self.posted_at is None

    @property
    def file_name(self) -> str:
        """What the PDF is called when downloaded or attached: CMP-2026-000123-deadlock.pdf."""
        return f"{self.complaint.reference}-{self.kind.replace('_', '-')}.pdf"

    @property
    def is_rendered(self) -> bool:
        return self.rendered_at is not None


class AttachmentQuerySet(models.QuerySet):
    def with_sender(self) -> AttachmentQuerySet:
        """Annotates ``from_customer``: the customer's own evidence, whether they sent it on the
        portal or staff attached it when logging the complaint they sent by post or e-mail (the
        filing's files). Staff's files are the rest."""
        return self.annotate(
            from_customer=models.Case(
                models.When(
                    models.Q(uploaded_by_role=Role.CUSTOMER)
                    | models.Q(event__kind=EventKind.FILED),
                    then=models.Value(True),
                ),
                default=models.Value(False),
                output_field=models.BooleanField(),
            )
        )


class Attachment(models.Model):
    """An evidence file from the customer or staff, kept outside the web root under a random name
    and served only through views that check access (see ``evidence.py``)."""

    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, related_name="attachments")
    event = models.ForeignKey(
        ComplaintEvent, on_delete=models.PROTECT, related_name="attachments", null=True
    )
    file = models.FileField(max_length=300)
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=120)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    customer_visible = models.BooleanField(default=True)
    uploaded_at = models.DateTimeField(default=timezone.now)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_by_role = models.CharField(max_length=10)

    objects = AttachmentQuerySet.as_manager()

    class Meta:
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.name


class EmailTemplate(models.TextChoices):
    ACKNOWLEDGEMENT = "acknowledgement", "Complaint received"
    REPLY = "reply", "Written reply"
    ESCALATION = "escalation", "Moved to stage 2 or 3"
    DEADLOCK = "deadlock", "Deadlock letter"
    OVERDUE_ALERT = "overdue_alert", "Reply overdue (to managers)"
    NEW_LINK = "new_link", "A new tracking link"
    MESSAGE = "message", "A message from staff"
    RESOLVED = "resolved", "Complaint resolved"
    ADR_DECISION = "adr_decision", "CISAS decision recorded"
    WITHDRAWN = "withdrawn", "Complaint withdrawn"
    CUSTOMER_WROTE = "customer_wrote", "A message from the customer (to staff)"


# E-mails about a complaint that go to staff, not to the customer (the managers' alerts, and the
# word that the customer has written).
STAFF_EMAIL_TEMPLATES = (EmailTemplate.OVERDUE_ALERT, EmailTemplate.CUSTOMER_WROTE)


class OutboundEmail(models.Model):
    """An e-mail that must go out, written in the same transaction as the change that causes it.

    A task sends it after commit; if the broker or the worker is down, it waits here and the
    periodic delivery picks it up. ``dedupe_key`` makes recording it idempotent; ``sent_at`` is
    set once, under a row lock, so it is marked sent at most once."""

    complaint = models.ForeignKey(
        Complaint, null=True, blank=True, on_delete=models.PROTECT, related_name="emails"
    )
    template = models.CharField(max_length=20, choices=EmailTemplate.choices)
    to = models.JSONField()  # list of addresses
    context = models.JSONField(default=dict)
    letter = models.ForeignKey(
        Letter, null=True, blank=True, on_delete=models.PROTECT, related_name="emails"
    )
    dedupe_key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # Delivery: WHERE sent_at IS NULL AND next_attempt_at <= now ORDER BY next_attempt_at.
            models.Index(
                fields=["next_attempt_at"],
                name="email_unsent_idx",
                condition=Q(sent_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template} to {', '.join(self.to)}"
