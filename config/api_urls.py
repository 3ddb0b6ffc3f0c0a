"""Routes of `/api/`; each matches with and without a trailing slash."""

from apps.accounts.api.urls import urlpatterns as account_urls
from apps.accounts.api.views import MyTokensView
from apps.agents.api.views import AgentsApprovalView, AgentsView
from apps.applications.api.collaborator_urls import urlpatterns as collaborator_urls
from apps.applications.api.files import AppFilesView
from apps.applications.api.publishing import (
    AppPublishView,
    AppUnpublishView,
    ReviewApproveView,
    ReviewChangesView,
    ReviewCollectionView,
)
from apps.applications.api.views import AppCollectionView, AppDetailView
from apps.audit.api.views import (
    AuditEventCollectionView,
    AuditEventDetailView,
    AuditEventSummaryView,
)
from apps.core.api import health
from apps.core.urls import api_path
from apps.execution.api import internal
from apps.execution.api.app_actions import AppActionView
from apps.execution.api.views import RunCollectionView, RunDetailView
from apps.integrations.api import oauth
from apps.integrations.api.views import (
    IntegrationCollectionView,
    IntegrationDetailView,
    IntegrationResetView,
    IntegrationSetupView,
)
from apps.workspaces.api.urls import urlpatterns as workspace_urls
from apps.workspaces.api.views import WorkspaceCollectionView

WORKSPACE = "workspaces/<str:workspace_id>"
APP = f"{WORKSPACE}/apps/<str:app_id>"

urlpatterns = [
    *api_path("health", health, name="health"),
    *api_path("me/tokens", MyTokensView.as_view(), name="me-tokens"),
    *api_path("workspaces", WorkspaceCollectionView.as_view(), name="workspaces"),
    *account_urls,
    *workspace_urls,
    *collaborator_urls,
    *api_path(f"{WORKSPACE}/apps", AppCollectionView.as_view(), name="apps"),
    *api_path(APP, AppDetailView.as_view(), name="app"),
    *api_path(f"{APP}/agents", AgentsView.as_view(), name="app-agents"),
    *api_path(f"{APP}/files", AppFilesView.as_view(), name="app-files"),
    *api_path(f"{APP}/publish", AppPublishView.as_view(), name="app-publish"),
    *api_path(f"{APP}/unpublish", AppUnpublishView.as_view(), name="app-unpublish"),
    *api_path(
        f"{APP}/app-tools/<str:tool_name>/execute",
        AppActionView.as_view(),
        name="app-action",
    ),
    *api_path(f"{WORKSPACE}/reviews", ReviewCollectionView.as_view(), name="reviews"),
    *api_path(
        f"{WORKSPACE}/reviews/<str:review_id>/approve",
        ReviewApproveView.as_view(),
        name="review-approve",
    ),
    *api_path(
        f"{WORKSPACE}/reviews/<str:review_id>/changes",
        ReviewChangesView.as_view(),
        name="review-changes",
    ),
    *api_path(
        f"{APP}/agents/approval",
        AgentsApprovalView.as_view(),
        name="app-agents-approval",
    ),
    *api_path(
        f"{APP}/integration-setup",
        IntegrationSetupView.as_view(),
        name="app-integration-setup",
    ),
    *api_path(f"{APP}/agent-runs", RunCollectionView.as_view(), name="app-runs"),
    *api_path(
        f"{APP}/agent-runs/<str:run_id>", RunDetailView.as_view(), name="app-run"
    ),
    *api_path(
        f"{WORKSPACE}/integrations",
        IntegrationCollectionView.as_view(),
        name="integrations",
    ),
    *api_path(
        f"{WORKSPACE}/integrations/<str:grant_id>",
        IntegrationDetailView.as_view(),
        name="integration",
    ),
    *api_path(
        f"{WORKSPACE}/integrations/<str:grant_id>/reset",
        IntegrationResetView.as_view(),
        name="integration-reset",
    ),
    *api_path(
        f"{WORKSPACE}/audit-events",
        AuditEventCollectionView.as_view(),
        name="audit-events",
    ),
    # The summary route comes first so that "summary" is never read as an id.
    *api_path(
        f"{WORKSPACE}/audit-events/summary",
        AuditEventSummaryView.as_view(),
        name="audit-events-summary",
    ),
    *api_path(
        f"{WORKSPACE}/audit-events/<str:event_id>",
        AuditEventDetailView.as_view(),
        name="audit-event",
    ),
    *api_path(
        f"{WORKSPACE}/oauth-providers",
        oauth.ProvidersView.as_view(),
        name="oauth-providers",
    ),
    *api_path(
        f"{WORKSPACE}/oauth-providers/<str:config_id>",
        oauth.ProviderDetailView.as_view(),
        name="oauth-provider",
    ),
    *api_path(
        f"{WORKSPACE}/oauth/<str:config_id>/start",
        oauth.ConnectStartView.as_view(),
        name="oauth-start",
    ),
    *api_path(
        f"{WORKSPACE}/connected-accounts",
        oauth.ConnectedAccountsView.as_view(),
        name="connected-accounts",
    ),
    *api_path(
        f"{WORKSPACE}/connected-accounts/<str:account_id>",
        oauth.ConnectedAccountDetailView.as_view(),
        name="connected-account",
    ),
    *api_path(
        "oauth/callback", oauth.ConnectCallbackView.as_view(), name="oauth-callback"
    ),
    *api_path(
        "internal/tool-execute", internal.ToolExecuteView.as_view(), name="tool-execute"
    ),
    *api_path(
        "internal/agent-run-complete",
        internal.AgentRunCompleteView.as_view(),
        name="agent-run-complete",
    ),
    *api_path(
        "internal/integration-requirements",
        internal.IntegrationRequirementsView.as_view(),
        name="integration-requirements",
    ),
    *api_path(
        "internal/workspace-integrations",
        internal.WorkspaceIntegrationsView.as_view(),
        name="workspace-integrations",
    ),
]
