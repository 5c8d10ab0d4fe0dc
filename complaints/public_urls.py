"""The customer's side: no account, a reference and a private tracking link."""

from django.urls import path

from . import views

app_name = "complaints"

track = "track/<str:reference>/<str:secret>/"

urlpatterns = [
    path("", views.home, name="home"),
    # Filing: one topic per page, then "check your answers", then the confirmation.
    path("complain/", views.complain_start, name="complain_start"),
    path("complain/check/", views.complain_check, name="complain_check"),
    path("complain/sent/", views.complain_sent, name="complain_sent"),
    path("complain/<slug:slug>/", views.complain_step, name="complain_step"),
    # "Lost my link" comes before the tracking pages, whose first part could be anything.
    path("track/lost/", views.lost_link, name="lost_link"),
    path("track/lost/sent/", views.lost_link_sent, name="lost_link_sent"),
    path(track, views.track, name="track"),
    path(f"{track}message/", views.track_message, name="track_message"),
    path(f"{track}written-reply/", views.track_written_reply, name="track_written_reply"),
    path(f"{track}letters/<int:letter_id>/", views.track_letter, name="track_letter"),
    path(f"{track}letters/<int:letter_id>.pdf", views.track_letter_pdf, name="track_letter_pdf"),
    path(f"{track}files/<int:attachment_id>/", views.track_file, name="track_file"),
    path(f"{track}<slug:name>/", views.track_action, name="track_action"),
]
