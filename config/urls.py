from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from complaints import health

urlpatterns = [
    path("", include("complaints.public_urls")),
    path("healthz", health.healthz, name="healthz"),
    path(
        "staff/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("staff/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("staff/", include("complaints.staff_urls")),
    path("staff/", include("escalation.urls")),
    path("admin/", admin.site.urls),
]
