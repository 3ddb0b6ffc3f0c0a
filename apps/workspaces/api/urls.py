"""Routes below `/api/workspaces/`, gathered from one module per concept."""

from apps.workspaces.api.invitation_urls import urlpatterns as invitation_urls
from apps.workspaces.api.member_urls import urlpatterns as member_urls
from apps.workspaces.api.team_urls import urlpatterns as team_urls

urlpatterns = [*member_urls, *team_urls, *invitation_urls]
