"""The staff side: the agents' queue and letters."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from . import documents, selectors
from .access import staff_required
from .models import Letter


@require_GET
@staff_required
def queue(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.agent_queue(), 25).get_page(request.GET.get("page"))
    return render(request, "complaints/queue.html", {"page": page, "now": timezone.now()})


@require_GET
@staff_required
def letter_pdf(request: HttpRequest, letter_id: int) -> FileResponse:
    """A letter's PDF for staff; rendered now if the worker has not got to it yet."""
    letter = get_object_or_404(Letter.objects.select_related("complaint"), pk=letter_id)
    if not letter.is_rendered:
        letter = documents.letter_render(letter_id=letter.pk)
    return FileResponse(
        letter.pdf.open("rb"),
        content_type="application/pdf",
        filename=f"{letter.complaint.reference}-{letter.kind.replace('_', '-')}.pdf",
    )
