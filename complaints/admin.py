"""Admin: read-mostly. State changes go through the services, never through a form field."""

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html

from config.logging import redact

from . import clocks, outbox, services
from .models import CaseView, ClosureDay, Complaint, ComplaintEvent, Letter, OutboundEmail
from .roles import Actor
from .staff_forms import check_new_closure_day


class EventInline(admin.TabularInline):
    model = ComplaintEvent
    fields = (
        "created_at",
        "kind",
        "actor",
        "actor_name",
        "actor_role",
        "from_state",
        "to_state",
        "text",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class RecordsCaseViewsAdmin(admin.ModelAdmin):
    """An admin page that shows a complaint's personal data (the complaint, a timeline entry, an
    e-mail to the customer) logs who opened it, as the case page does: an auditor asking who
    saw a customer's complaint gets every member of staff who did, administrators too."""

    def complaint_of(self, obj):
        return obj.complaint

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # Called once Django has found the object and checked the permission to see it.
        if obj is not None and request.method == "GET":
            complaint = self.complaint_of(obj)
            if complaint is not None:
                services.case_view_record(
                    complaint=complaint, by=Actor.staff(request.user), via=CaseView.Via.ADMIN
                )
        return super().render_change_form(request, context, add, change, form_url, obj)


class AppendOnlyAdmin(admin.ModelAdmin):
    """For the append-only records (the timeline, the log of who viewed what): listed, never
    added, changed or deleted from the admin."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Complaint)
class ComplaintAdmin(RecordsCaseViewsAdmin):
    list_display = (
        "reference",
        "customer_name",
        "state",
        "category",
        "channel",
        "received_at",
        "reply_due",
        "assigned_to",
    )
    list_filter = ("state", "category", "channel", "vulnerable", "nation")
    search_fields = ("reference", "customer_name", "email", "account_number")
    list_select_related = ("assigned_to",)
    date_hierarchy = "received_at"
    inlines = [EventInline]

    def complaint_of(self, obj):
        return obj

    actions = ["withdraw_selected"]

    # Deadlines shown as the dates the portal gives everywhere: the stored instant is midnight
    # at the end of that day, which reads as the day after.
    DEADLINES = {"response_due_at": "reply_due", "first_response_due_at": "first_reply_due"}

    def get_fields(self, request, obj=None):
        return [self.DEADLINES.get(f.name, f.name) for f in Complaint._meta.fields]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.display(description="Reply due by", ordering="response_due_at")
    def reply_due(self, complaint: Complaint):
        # The London date, as everywhere else: response_due_at is the instant that day ends.
        due = complaint.response_due_date
        return formats.date_format(due) if due else None

    @admin.display(description="First reply due by")
    def first_reply_due(self, complaint: Complaint):
        # Stage 1's, kept once the clock has restarted (empty until then: the reply due above).
        due = clocks.due_date(complaint.first_response_due_at)
        return formats.date_format(due) if due else None

    def has_add_permission(self, request):
        return False  # complaints are filed through the portal or the API, which start the clocks

    def has_change_permission(self, request, obj=None):
        return False  # every field is read-only: no Save button that saves nothing

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Withdraw the selected complaints (at the customer's request)")
    def withdraw_selected(self, request, queryset):
        # A page first that names the complaints and asks how the customer asked: the reason
        # goes on each timeline, as it does from the case page.
        reason = request.POST.get("reason", "").strip()
        if "confirm" not in request.POST or not reason:
            return TemplateResponse(
                request,
                "admin/complaints/withdraw_confirm.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Withdraw complaints",
                    "complaints": list(queryset.order_by("reference")),
                    "action_checkbox_name": ACTION_CHECKBOX_NAME,
                    "reason": reason,
                    "error": "Say how and when the customer asked."
                    if "confirm" in request.POST
                    else "",
                },
            )
        by = Actor.staff(request.user)
        done = 0
        for complaint in queryset:
            try:
                services.complaint_withdraw(complaint=complaint, by=by, reason=reason)
                done += 1
            except (services.ComplaintError, ValidationError) as exc:
                self.message_user(request, f"{complaint.reference}: {exc}", messages.WARNING)
        if done:
            self.message_user(request, f"{done} complaint(s) withdrawn.", messages.SUCCESS)


@admin.register(ComplaintEvent)
class ComplaintEventAdmin(RecordsCaseViewsAdmin, AppendOnlyAdmin):
    list_display = ("complaint", "created_at", "kind", "actor", "actor_role", "to_state")
    list_filter = ("kind", "actor_role")
    search_fields = ("complaint__reference",)
    list_select_related = ("complaint", "actor")


class ClosureDayAdminForm(forms.ModelForm):
    class Meta:
        model = ClosureDay
        fields = ["date", "reason"]

    def clean_date(self):
        return check_new_closure_day(self.cleaned_data["date"])


@admin.register(ClosureDay)
class ClosureDayAdmin(admin.ModelAdmin):
    """Closure days with the managers' page's rules: added for today or later, removed only while
    still ahead, never moved (a deadline already worked out with one must stay as given)."""

    form = ClosureDayAdminForm
    list_display = ("date", "reason")
    date_hierarchy = "date"

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return obj is None or obj.date > clocks.london_date(timezone.now())

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # one at a time, each checked above
        return actions


@admin.register(Letter)
class LetterAdmin(RecordsCaseViewsAdmin):
    list_display = ("complaint", "kind", "issued_at", "issued_by", "rendered_at", "pdf_link")
    list_filter = ("kind",)
    search_fields = ("complaint__reference",)
    list_select_related = ("complaint", "issued_by")

    def get_readonly_fields(self, request, obj=None):
        return [*(f.name for f in Letter._meta.fields), "pdf_link"]

    @admin.display(description="PDF")
    def pdf_link(self, letter: Letter) -> str:
        url = reverse("staff:letter_pdf", args=[letter.pk])
        return format_html('<a href="{}">Open the PDF</a>', url)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OutboundEmail)
class OutboundEmailAdmin(RecordsCaseViewsAdmin):
    list_display = ("template", "complaint", "created_at", "attempts", "sent_at", "last_error")
    list_filter = ("template", ("sent_at", admin.EmptyFieldListFilter))
    search_fields = ("complaint__reference", "dedupe_key")
    list_select_related = ("complaint",)
    actions = ["retry_now"]

    def get_fields(self, request, obj=None):
        return [
            "shown_context" if f.name == "context" else f.name for f in OutboundEmail._meta.fields
        ]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.display(description="Context")
    def shown_context(self, email: OutboundEmail) -> str:
        # An e-mail not sent yet still holds the customer's tracking link: whoever had it could
        # act on the complaint as the customer, so the admin shows it without its secret.
        context = dict(email.context)
        if "tracking_url" in context:
            context["tracking_url"] = redact(context["tracking_url"])
        return json.dumps(context, ensure_ascii=False, indent=2)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Try the selected unsent e-mails again now")
    def retry_now(self, request, queryset):
        count = queryset.filter(sent_at__isnull=True).update(next_attempt_at=timezone.now())
        outbox.queue_after_commit(outbox.DELIVERY_TASK)
        self.message_user(request, f"{count} e-mail(s) will be tried again.", messages.SUCCESS)


@admin.register(CaseView)
class CaseViewAdmin(AppendOnlyAdmin):
    """Who looked at whose complaint: read-only, for audits and subject access requests."""

    list_display = ("viewed_at", "viewer", "complaint", "via")
    list_filter = ("via", "viewer")
    search_fields = ("complaint__reference", "viewer__username")
    list_select_related = ("complaint", "viewer")
    date_hierarchy = "viewed_at"
