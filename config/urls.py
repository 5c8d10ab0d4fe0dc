from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from complaints import health


class FaviconRedirect(RedirectView):
    """Pages that name no icon (the admin's, a PDF's) make browsers ask for /favicon.ico: send
    them to the one in static/ (looked up per request, once the static manifest exists)."""

    def get_redirect_url(self, *args, **kwargs) -> str:
        return static("favicon.svg")


urlpatterns = [
    path("", include("complaints.public_urls")),
    path("healthz", health.healthz, name="healthz"),
    path("favicon.ico", FaviconRedirect.as_view()),
    path(
        "staff/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("staff/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("staff/", include("complaints.staff_urls")),
    path("staff/", include("escalation.urls")),
    path("api/v1/", include("complaints.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]

# While the database is unreachable: a 503 page with Retry-After, not a 500 (complaints.errors).
handler500 = "complaints.errors.server_error"
handler404 = "complaints.errors.page_not_found"  # the API's 404s in its JSON
handler400 = "complaints.errors.bad_request"  # a session that could not be saved, for one
