"""Routes of publishing and reviews.

Reviewing, publishing at once and unpublishing need an owner or admin; anyone
who builds the app may request a review.
"""

from rest_framework import serializers
from rest_framework.response import Response

from apps.applications.api.guard import AppAPIView
from apps.applications.api.serializers import app_body, review_body
from apps.applications.publishing import app_unpublish
from apps.applications.reviews import (
    app_publish,
    review_approve,
    review_request_changes,
)
from apps.applications.selectors import (
    apps_visible_to,
    review_find_visible,
    reviews_visible_to,
)
from apps.core.errors import NotFound, ValidationFailed
from apps.workspaces.api.guard import WorkspaceAPIView
from apps.workspaces.roles import role_governs

UPDATE_DENIED = ("apps:update", "forbidden", "Your role cannot change apps here.")
GOVERN_DETAIL = "Only owners and admins review, publish and unpublish apps."


class PublishInput(serializers.Serializer):
    teamIds = serializers.ListField(child=serializers.CharField())  # noqa: N815
    mode = serializers.ChoiceField(choices=["request", "publish"], default="request")
    hash = serializers.CharField(max_length=80, required=False, allow_blank=True)


class ChangesInput(serializers.Serializer):
    message = serializers.CharField(max_length=4000)


class AppPublishView(AppAPIView):
    """`POST …/apps/{a}/publish {teamIds, mode, hash}`."""

    permissions = {"POST": UPDATE_DENIED}

    def post(self, request, workspace_id, app_id):
        self.require_builder()
        data = PublishInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        app, review = app_publish(
            app=self.app,
            user=request.user,
            role=self.role,
            team_ids=values["teamIds"],
            mode=values["mode"],
            seen_hash=values.get("hash") or None,
            actor=self.actor,
            source=self.audit_source,
        )
        body = {
            "app": app_body(app),
            "review": review_body(review) if review else None,
            "published": review is None,
        }
        return Response(body, status=202 if review else 200)


class AppUnpublishView(AppAPIView):
    """`POST …/apps/{a}/unpublish`: stop the published app at once."""

    def post(self, request, workspace_id, app_id):
        if not role_governs(self.role):
            self.deny("forbidden", GOVERN_DETAIL)
        changed = app_unpublish(
            app=self.app, actor=self.actor, source=self.audit_source
        )
        return Response({"app": app_body(self.app), "unpublished": changed})


class ReviewCollectionView(WorkspaceAPIView):
    """`GET …/reviews[?status=pending]`: reviews of the apps the caller can see."""

    def get(self, request, workspace_id):
        reviews = reviews_visible_to(
            apps=apps_visible_to(membership=self.membership)
        ).select_related("app")
        wanted = request.query_params.get("status")
        if wanted:
            reviews = reviews.filter(status=wanted)
        return Response([review_body(review) for review in reviews[:200]])


class ReviewScopedView(WorkspaceAPIView):
    def resolve_scope(self, **kwargs) -> None:
        review = review_find_visible(
            apps=apps_visible_to(membership=self.membership),
            review_id=kwargs.get("review_id"),
        )
        if review is None:
            raise NotFound()
        self.review = review

    def check_governs(self) -> None:
        if not role_governs(self.role):
            self.deny("forbidden", GOVERN_DETAIL)


class ReviewApproveView(ReviewScopedView):
    """`POST …/reviews/{id}/approve`: publish the draft the review was asked for."""

    def post(self, request, workspace_id, review_id):
        self.check_governs()
        review = review_approve(
            review=self.review,
            user=request.user,
            role=self.role,
            actor=self.actor,
            source=self.audit_source,
        )
        return Response(review_body(review))


class ReviewChangesView(ReviewScopedView):
    """`POST …/reviews/{id}/changes {message}`: send the review back."""

    def post(self, request, workspace_id, review_id):
        self.check_governs()
        data = ChangesInput(data=request.data)
        if not data.is_valid():
            raise ValidationFailed(
                {"message": ["Say what must change before the app is published."]}
            )
        review = review_request_changes(
            review=self.review,
            user=request.user,
            message=data.validated_data["message"],
            actor=self.actor,
            source=self.audit_source,
        )
        return Response(review_body(review))
