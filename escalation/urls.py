"""The managers' pages: escalations, reports, closure days (mounted at /staff/)."""

from django.urls import path

from . import views

app_name = "escalation"

urlpatterns = [
    path("escalations/", views.queue, name="queue"),
    path("reports/", views.report, name="reports"),
    path("reports/cases.csv", views.report_cases_csv, name="report_cases_csv"),
    path("reports/figures.csv", views.report_figures_csv, name="report_figures_csv"),
    path("closure-days/", views.closure_days, name="closure_days"),
    path("closure-days/<int:pk>/delete/", views.closure_day_delete, name="closure_day_delete"),
]
