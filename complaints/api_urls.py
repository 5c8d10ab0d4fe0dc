from rest_framework.routers import SimpleRouter

from . import api

app_name = "api"

router = SimpleRouter(trailing_slash=True)
router.register("complaints", api.ComplaintViewSet, basename="complaint")

urlpatterns = router.urls
