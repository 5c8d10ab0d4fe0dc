from django.apps import AppConfig


class ComplaintsConfig(AppConfig):
    name = "complaints"
    verbose_name = "Complaints"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
