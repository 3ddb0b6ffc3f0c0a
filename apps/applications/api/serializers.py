from rest_framework import serializers

from apps.agents.selectors import agents_state_for_files, approval_summary
from apps.applications.models import App, AppSnapshot
from apps.applications.selectors import snapshot_find


class AppCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(required=False, allow_blank=True, default="")


def _snapshot_body(app: App, kind: str) -> dict | None:
    snapshot = snapshot_find(app=app, kind=kind)
    if snapshot is None:
        return None
    state = agents_state_for_files(app=app, files=snapshot.files)
    if kind == AppSnapshot.Kind.PUBLISHED and snapshot.approval is not None:
        approval = {"state": "approved", "approvedHash": snapshot.approval.hash}
    else:
        approval = approval_summary(state)
    return {
        "files": sorted(snapshot.files),
        "totalBytes": snapshot.total_bytes,
        "agentsHash": state.hash,
        "approval": approval,
        "updatedAt": snapshot.updated_at.isoformat(),
    }


def app_body(app: App, *, include_draft: bool = True) -> dict:
    return {
        "id": str(app.pk),
        "workspaceId": str(app.workspace_id),
        "name": app.name,
        "description": app.description,
        "publishStatus": app.publish_status,
        "createdBy": str(app.created_by_id) if app.created_by_id else None,
        "createdAt": app.created_at.isoformat(),
        "updatedAt": app.updated_at.isoformat(),
        "draft": _snapshot_body(app, AppSnapshot.Kind.DRAFT) if include_draft else None,
        "published": _snapshot_body(app, AppSnapshot.Kind.PUBLISHED),
    }
