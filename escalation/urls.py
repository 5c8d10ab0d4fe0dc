"""The managers' pages: escalations, reports, closure days."""

from django.urls import path  # noqa: F401

app_name = "escalation"

urlpatterns: list = []
