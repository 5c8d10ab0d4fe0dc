"""Admin: read-mostly. State changes go through the services, never through a form field."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from . import services
from .models import ClosureDay, Complaint, ComplaintEvent
from .roles import Actor


class EventInline(admin.TabularInline):
    model = ComplaintEvent
    fields = ("created_at", "kind", "actor", "actor_role", "from_state", "to_state", "text")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Complaint)
class ComplaintAdmin(admin.ModelAdmin):
    list_display = (
        "reference",
        "customer_name",
        "state",
        "category",
        "channel",
        "received_at",
        "response_due_at",
        "assigned_to",
    )
    list_filter = ("state", "category", "channel", "vulnerable", "nation")
    search_fields = ("reference", "customer_name", "email", "account_number")
    list_select_related = ("assigned_to",)
    date_hierarchy = "received_at"
    inlines = [EventInline]
    actions = ["withdraw_selected"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Complaint._meta.fields]

    def has_add_permission(self, request):
        return False  # complaints are filed through the portal or the API, which start the clocks

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Withdraw the selected complaints (at the customer's request)")
    def withdraw_selected(self, request, queryset):
        by = Actor.staff(request.user)
        done = 0
        for complaint in queryset:
            try:
                services.complaint_withdraw(
                    complaint=complaint, by=by, reason="Withdrawn at the customer's request."
                )
                done += 1
            except (services.ComplaintError, ValidationError) as exc:
                self.message_user(request, f"{complaint.reference}: {exc}", messages.WARNING)
        if done:
            self.message_user(request, f"{done} complaint(s) withdrawn.", messages.SUCCESS)


@admin.register(ComplaintEvent)
class ComplaintEventAdmin(admin.ModelAdmin):
    list_display = ("complaint", "created_at", "kind", "actor", "actor_role", "to_state")
    list_filter = ("kind", "actor_role")
    search_fields = ("complaint__reference",)
    list_select_related = ("complaint", "actor")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ClosureDay)
class ClosureDayAdmin(admin.ModelAdmin):
    list_display = ("date", "reason")
    date_hierarchy = "date"
