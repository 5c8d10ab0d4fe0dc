"""The staff side: the agents' queue."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from . import selectors
from .access import staff_required


@require_GET
@staff_required
def queue(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.agent_queue(), 25).get_page(request.GET.get("page"))
    return render(request, "complaints/queue.html", {"page": page, "now": timezone.now()})
