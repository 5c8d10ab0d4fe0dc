from django.urls import path

from . import staff_views

app_name = "staff"

urlpatterns = [
    path("", staff_views.queue, name="queue"),
    path("letters/<int:letter_id>.pdf", staff_views.letter_pdf, name="letter_pdf"),
]
