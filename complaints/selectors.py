"""Reads for pages and the API: each a fixed number of queries whatever the page length."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Complaint, State


def agent_queue() -> QuerySet[Complaint]:
    """Open stage-1 cases, the reply due soonest first (served by complaint_queue_idx)."""
    return (
        Complaint.objects.filter(state=State.CS_TEAM)
        .select_related("assigned_to")
        .order_by("response_due_at", "id")
    )
