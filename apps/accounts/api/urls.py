"""Routes of `/api/me/`. The `me/tokens` route itself is in `config/api_urls.py`."""

from apps.accounts.api.views import MyTokenDetailView
from apps.core.urls import api_path

urlpatterns = [
    *api_path("me/tokens/<str:token_id>", MyTokenDetailView.as_view(), name="me-token"),
]
