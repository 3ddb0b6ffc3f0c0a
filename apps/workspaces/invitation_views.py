"""Browser pages of the accept link `/invitations/<token>`.

A signed-in account is shown the workspace, the role and an Accept button. In local
mode, when nobody is signed in and no account has the invited email address, the
page offers a form that creates the account with that address, accepts and signs
it in. Otherwise a visitor who is not signed in goes to the sign-in page first.
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from apps.audit.services import Source
from apps.core.errors import ApiError
from apps.workspaces.invitations import (
    invitation_accept,
    invitation_check_acceptable,
    invitation_check_token,
)
from apps.workspaces.roles import role_governs
from apps.workspaces.selectors import membership_find

logger = logging.getLogger(__name__)

User = get_user_model()

# The local sign-up form creates password accounts, which this backend admits.
PASSWORD_BACKEND = "django.contrib.auth.backends.ModelBackend"

PROBLEM_TITLES = {
    403: "This invitation is for someone else",
    404: "This invitation link is not valid",
    409: "You are already a member",
    410: "This invitation expired",
}


class InvitationSignupForm(UserCreationForm):
    """Form for the username and password of a new account.

    The email address comes from the invitation. The password validators check
    it too, so a password that is too similar to the address is rejected.
    """

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username",)


def _problem(request, error: ApiError, *, title: str = ""):
    """Render the error page with the error's status code and detail."""
    title = title or PROBLEM_TITLES.get(
        error.status_code, "This invitation cannot be used"
    )
    # The request path contains the token, so this log line names only ids.
    # NOTE: django.request still logs every 4xx response with its path, token
    # included; a filter in the logging settings has to mask it.
    logger.info(
        "invitation page rejected: code=%s status=%s user=%s",
        error.code,
        error.status_code,
        getattr(request.user, "pk", None),
    )
    context = {
        "title": title,
        "detail": error.detail,
        "offer_sign_out": error.code == "invitation_email_mismatch",
    }
    return render(
        request, "invitations/problem.html", context, status=error.status_code
    )


def _signup_offered(invitation) -> bool:
    if settings.SECOND_AUTH_MODE != "local":
        return False
    return not User.objects.filter(email__iexact=invitation.email).exists()


def _after_accept(membership):
    """Send owners and admins to Django admin, and members to the joined page."""
    if role_governs(membership.role):
        return redirect("/admin/")
    return redirect(
        reverse("invitation-joined", kwargs={"workspace_id": membership.workspace_id})
    )


def _page_context(invitation, **extra) -> dict:
    return {
        "title": f"Join {invitation.workspace.name}",
        "workspace_name": invitation.workspace.name,
        "role": invitation.role,
        "email": invitation.email,
        "expires_at": invitation.expires_at,
        **extra,
    }


def _signed_in(request, invitation, token: str):
    """Show the Accept button on GET, and accept on POST."""
    try:
        invitation_check_acceptable(invitation=invitation, user=request.user)
        if request.method != "POST":
            context = _page_context(invitation)
            return render(request, "invitations/accept.html", context)

        membership = invitation_accept(
            token=token, user=request.user, source=Source.from_request(request)
        )
    except ApiError as error:
        return _problem(request, error)
    return _after_accept(membership)


def _signup(request, invitation, token: str):
    """Show the account form on GET. A valid POST creates the account, accepts and
    signs it in."""
    form = InvitationSignupForm(
        request.POST if request.method == "POST" else None,
        instance=User(email=invitation.email),
    )
    if request.method != "POST" or not form.is_valid():
        context = _page_context(invitation, form=form)
        return render(request, "invitations/signup.html", context)

    try:
        # The account exists only if the accept succeeds.
        with transaction.atomic():
            user = form.save()
            membership = invitation_accept(
                token=token, user=user, source=Source.from_request(request)
            )
    except ApiError as error:
        return _problem(request, error)

    login(request, user, backend=PASSWORD_BACKEND)
    logger.info(
        "account created from invitation: user=%s invitation=%s",
        user.pk,
        invitation.pk,
    )
    return _after_accept(membership)


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def invitation_page(request, token: str):
    """Show or accept the invitation of `token`.

    An unknown, revoked or accepted token gets a 404 page, an expired one a 410.
    """
    try:
        invitation = invitation_check_token(token=token)
    except ApiError as error:
        return _problem(request, error)

    if request.user.is_authenticated:
        return _signed_in(request, invitation, token)

    if _signup_offered(invitation):
        return _signup(request, invitation, token)
    return redirect_to_login(request.path)


@never_cache
@login_required
@require_http_methods(["GET"])
def workspace_joined(request, workspace_id: str):
    """Confirm the membership of a workspace the signed-in account just joined."""
    membership = membership_find(user=request.user, workspace_id=workspace_id)
    if membership is None:
        error = ApiError(
            "not_found",
            "You are not a member of this workspace.",
            status_code=404,
        )
        return _problem(request, error, title="Workspace not found")

    context = {
        "title": f"You joined {membership.workspace.name}",
        "workspace_name": membership.workspace.name,
        "workspace_id": membership.workspace_id,
        "role": membership.role,
    }
    return render(request, "invitations/joined.html", context)
