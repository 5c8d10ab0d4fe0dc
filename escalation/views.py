"""The managers' pages: the escalations queue, the reports and their CSV exports, closure days."""

from __future__ import annotations

import csv
import datetime as dt
import functools
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.contrib import messages
from django.contrib.admin.models import ADDITION, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from complaints import clocks
from complaints.access import manager_required
from complaints.keyset import KeysetPaginator
from complaints.models import ClosureDay
from complaints.roles import staff_label
from complaints.selectors import Calendars, staff_members, with_days_left
from complaints.staff_forms import ClosureDayForm, ReportPeriodForm
from complaints.staff_views import with_case_links

from . import reports, selectors

# --- The managers' queue ------------------------------------------------------------------------


@require_GET
@manager_required
def queue(request: HttpRequest) -> HttpResponse:
    show = request.GET.get("show", "")
    if show not in selectors.SECTION_KEYS:
        show = selectors.SECTION_KEYS[0]
    now = timezone.now()
    calendars = Calendars.load()
    cases = selectors.section_cases(show, now, calendars)
    counts = selectors.section_counts(now, calendars)
    paginator = KeysetPaginator(cases, selectors.SEGMENTS[show], 25, count=counts[show])
    page = paginator.get_page(request.GET)
    page.object_list = with_case_links(with_days_left(page.object_list, now, calendars))
    staff = list(staff_members())
    options = _assignee_options(staff)
    today = clocks.london_date(now)
    for case in page.object_list:
        case.assignee_options = options(case.assigned_to_id)
        case.cisas_passed = case.cisas_window_passed(today)
    return render(
        request,
        "escalation/queue.html",
        {
            "sections": [{"section": s, "count": counts[s.key]} for s in selectors.SECTIONS],
            "section": next(s for s in selectors.SECTIONS if s.key == show),
            "page": page,
            "next_url": request.get_full_path(),
            "today": today,
        },
    )


def _assignee_options(staff: list) -> Callable[[int | None], SafeString]:
    """Each row's "assign to" list, built in Python: a template loop over every member of staff
    for each of 25 rows was most of the page's time once the staff numbered a few dozen."""
    # As the case page's assign list names them: two people may share a name.
    people = [(person.pk, escape(staff_label(person))) for person in staff]

    def options(selected: int | None) -> SafeString:
        return mark_safe(  # noqa: S308 (names escaped above)
            f'<option value=""{" selected" if selected is None else ""}>Nobody</option>'
            + "".join(
                f'<option value="{pk}"{" selected" if pk == selected else ""}>{name}</option>'
                for pk, name in people
            )
        )

    return options


# --- Reports --------------------------------------------------------------------------------------


@require_GET
@manager_required
def report(request: HttpRequest) -> HttpResponse:
    form = ReportPeriodForm.asked(request.GET)
    if form.is_bound and not form.is_valid():
        # The period asked for cannot be shown: say why, and show no figures rather than another
        # period's under the dates that were refused.
        return render(request, "escalation/reports.html", {"form": form}, status=400)
    start, end = form.period()
    if not form.is_bound:
        form = ReportPeriodForm(initial={"start": start, "end": end})
    figures = reports.summary(start, end)
    charts = {
        "by_channel": reports.bar_chart(figures["by_channel"], title="Received by channel"),
        "by_category": reports.bar_chart(figures["by_category"], title="Received by category"),
        "escalations": reports.bar_chart(
            [
                {"label": "To stage 2 (manager)", "count": figures["escalations"]["to_stage_2"]},
                {"label": "To stage 3 (formal)", "count": figures["escalations"]["to_stage_3"]},
                {"label": "Reopened", "count": figures["escalations"]["reopened"]},
            ],
            title="Escalations",
        ),
        "deadlock": reports.bar_chart(
            [
                {
                    "label": "Manager's decision",
                    "count": figures["deadlock_letters"]["by_decision"],
                },
                {"label": "ADR clock ran out", "count": figures["deadlock_letters"]["by_clock"]},
            ],
            title="Deadlock letters",
        ),
        "cisas": reports.bar_chart(
            [
                {"label": "Referred to CISAS", "count": figures["cisas"]["referred"]},
                *figures["cisas"]["outcomes"],
                {"label": "Decision accepted", "count": figures["cisas"]["accepted"]},
                {"label": "Court action", "count": figures["cisas"]["court"]},
            ],
            title="CISAS and court",
        ),
        "open_by_age": reports.bar_chart(figures["open_by_age"], title="Open today, by age"),
    }
    return render(
        request,
        "escalation/reports.html",
        {
            "form": form,
            "figures": figures,
            "charts": charts,
            "period_query": f"start={start.isoformat()}&end={end.isoformat()}",
            "replied_help": reports.REPLIED_IN_TIME_HELP,
            "first_reply_help": reports.FIRST_REPLY_HELP,
            "median_help": reports.MEDIAN_HELP,
        },
    )


class _Echo:
    """csv.writer writes each row to this and gets the text back, so rows can be streamed."""

    def write(self, value: str) -> str:
        return value


def _safe(cell: Any) -> Any:
    # A cell a spreadsheet would run as a formula (=, +, -, @) is made plain text.
    if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + cell
    return cell


# Where a cell starts in a written CSV line (the line's start, or after a comma; quoted or not),
# followed by what a spreadsheet would take for a formula. A cell holding a carriage return is
# always quoted: an unquoted one is the line's own ending.
_FORMULA_CELL = re.compile(r'(?:^|,)(?:"?[=+\-@\t]|"\r)')
CSV_BATCH = 500  # rows a chunk: one write to the socket for each, not one for each row


def _csv_response(rows: Iterable[list[Any]], filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield "\ufeff"  # so Excel reads the file as UTF-8
        batch = []
        for row in rows:
            line = writer.writerow(row)
            # A year is millions of cells: look at the written line once, and make the cells
            # plain text only when one of them starts like a formula.
            if _FORMULA_CELL.search(line):
                line = writer.writerow([_safe(cell) for cell in row])
            batch.append(line)
            if len(batch) >= CSV_BATCH:
                yield "".join(batch)
                batch = []
        if batch:
            yield "".join(batch)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


def _for_period(export: Callable[[HttpRequest, dt.date, dt.date], HttpResponse]):
    """An export of the period the request asks for (the last twelve months when it names
    none). A period that cannot be used is refused (400) with the reason, rather than answered
    with other dates."""

    @functools.wraps(export)
    def view(request: HttpRequest) -> HttpResponse:
        form = ReportPeriodForm.asked(request.GET)
        if form.is_bound and not form.is_valid():
            # Each message names its date ("The end date must be ..."), as on the reports page.
            problems = " ".join(error for errors in form.errors.values() for error in errors)
            return HttpResponseBadRequest(
                f"This export's period cannot be used. {problems} Choose the dates on the "
                "reports page.",
                content_type="text/plain; charset=utf-8",
            )
        return export(request, *form.period())

    return view


@require_GET
@manager_required
@_for_period
def report_cases_csv(request: HttpRequest, start: dt.date, end: dt.date) -> HttpResponse:

    def rows() -> Iterator[list[Any]]:
        yield reports.CASE_COLUMNS
        yield from reports.case_rows(start, end)

    return _csv_response(rows(), f"complaints-{start.isoformat()}-to-{end.isoformat()}.csv")


@require_GET
@manager_required
@_for_period
def report_figures_csv(request: HttpRequest, start: dt.date, end: dt.date) -> HttpResponse:

    def rows() -> Iterator[list[Any]]:
        yield ["Section", "Item", "Value"]
        yield from reports.figure_rows(reports.summary(start, end))

    return _csv_response(rows(), f"figures-{start.isoformat()}-to-{end.isoformat()}.csv")


# --- Closure days ---------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@manager_required
def closure_days(request: HttpRequest) -> HttpResponse:
    form = ClosureDayForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            day = ClosureDay.objects.create(
                date=form.cleaned_data["date"], reason=form.cleaned_data["reason"].strip()
            )
            _log_closure_day(request, day, ADDITION)
        messages.success(request, f"{day.date:%A %-d %B %Y} is now a closure day: {day.reason}.")
        return redirect("escalation:closure_days")
    today = clocks.london_date(timezone.now())
    days = list(ClosureDay.objects.order_by("date"))
    return render(
        request,
        "escalation/closure_days.html",
        {
            "form": form,
            "upcoming": [d for d in days if d.date >= today],
            "past": [d for d in days if d.date < today][-20:][::-1],
            "today": today,
            "changes": _closure_day_changes(),
        },
        status=400 if form.errors else 200,
    )


def _log_closure_day(request: HttpRequest, day: ClosureDay, flag: int) -> None:
    """Who added or removed a closure day, and when, in the record the admin keeps of its own
    changes (its "Recent actions" and history): a closure day moves every deadline set while it
    stands, so an auditor asking why a date is what it is can see who changed the calendar."""
    LogEntry.objects.log_actions(
        user_id=request.user.pk,
        queryset=[day],
        action_flag=flag,
        change_message="On the managers' closure days page",
        single_object=True,
    )


def _closure_day_changes() -> list[LogEntry]:
    """The latest additions and removals of closure days, here or in the admin, newest first."""
    kind = ContentType.objects.get_for_model(ClosureDay)
    return list(
        LogEntry.objects.filter(content_type=kind, action_flag__in=(ADDITION, DELETION))
        .select_related("user")
        .order_by("-action_time")[:20]
    )


@require_POST
@manager_required
def closure_day_delete(request: HttpRequest, pk: int) -> HttpResponse:
    day = get_object_or_404(ClosureDay, pk=pk)
    if day.date <= clocks.london_date(timezone.now()):
        messages.error(
            request,
            f"{day.date:%-d %B %Y} has already started or passed, so it stays on the record.",
        )
    else:
        with transaction.atomic():
            _log_closure_day(request, day, DELETION)
            day.delete()
        messages.success(request, f"{day.date:%A %-d %B %Y} is no longer a closure day.")
    return redirect("escalation:closure_days")
