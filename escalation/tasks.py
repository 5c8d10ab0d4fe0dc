"""Beat's periodic tasks: thin wrappers over the sweeps, which are idempotent and may overlap."""

from celery import shared_task

from . import services


@shared_task(ignore_result=True)
def sweep_overdue_replies() -> int:
    return services.sweep_overdue_replies()


@shared_task(ignore_result=True)
def sweep_adr_clock() -> int:
    return services.sweep_adr_clock()


@shared_task(ignore_result=True)
def sweep_auto_close() -> int:
    return services.sweep_auto_close()


@shared_task(ignore_result=True)
def sweep_overdue_remedies() -> int:
    return services.sweep_overdue_remedies()
