from rest_framework import serializers

from apps.agents.selectors import agents_state_for_files, approval_summary
from apps.applications.models import App, AppSnapshot, Review
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
        "publishedAt": app.published_at.isoformat() if app.published_at else None,
        "teamIds": sorted(str(pk) for pk in app.teams.values_list("pk", flat=True)),
        "draft": _snapshot_body(app, AppSnapshot.Kind.DRAFT) if include_draft else None,
        "published": _snapshot_body(app, AppSnapshot.Kind.PUBLISHED),
        "review": _latest_review(app) if include_draft else None,
    }


def review_body(review: Review) -> dict:
    return {
        "id": str(review.pk),
        "appId": str(review.app_id),
        "appName": review.app.name,
        "status": review.status,
        "draftHash": review.draft_hash,
        "teamIds": sorted(str(pk) for pk in review.teams.values_list("pk", flat=True)),
        "requestedBy": str(review.requested_by_id) if review.requested_by_id else None,
        "requestedAt": review.requested_at.isoformat(),
        "decidedBy": str(review.decided_by_id) if review.decided_by_id else None,
        "decidedAt": review.decided_at.isoformat() if review.decided_at else None,
        "message": review.message,
    }


def _latest_review(app: App) -> dict | None:
    review = app.reviews.select_related("app").first()
    return review_body(review) if review else None
