from django.urls import path

from . import staff_views

app_name = "staff"

urlpatterns = [
    path("", staff_views.queue, name="queue"),
    # Before the case page's pattern, which would take "new" for a reference.
    path("complaints/new/", staff_views.log_complaint, name="log_complaint"),
    path("complaints/<str:reference>/", staff_views.case, name="case"),
    path("complaints/<str:reference>/actions/", staff_views.case_action, name="case_action"),
    path(
        "complaints/<str:reference>/files/<int:attachment_id>/",
        staff_views.attachment,
        name="attachment",
    ),
    path(
        "complaints/<str:reference>/subject-access/",
        staff_views.subject_access_export,
        name="subject_access_export",
    ),
    path("letters/<int:letter_id>.pdf", staff_views.letter_pdf, name="letter_pdf"),
    path("letters/to-post/", staff_views.letters_to_post, name="letters_to_post"),
    path("letters/<int:letter_id>/posted/", staff_views.letter_posted, name="letter_posted"),
    path("session/keepalive/", staff_views.keepalive, name="keepalive"),
]
