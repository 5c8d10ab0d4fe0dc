from django.apps import AppConfig


class ComplaintsConfig(AppConfig):
    name = "complaints"
    verbose_name = "Complaints"

    def ready(self) -> None:
        # The system checks, and the count of failed sign-ins by address, register themselves.
        from . import checks, signin  # noqa: F401
