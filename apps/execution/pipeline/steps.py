"""The ordered checks of a tool call, one function a step.

Each step takes the call context and returns None to go on or a Final result
that decides the response. The order is the contract: approval, spec sanity,
grant, OAuth, static secrets, templates, egress, result.
"""

import json
import logging
from dataclasses import replace
from urllib.parse import urlsplit

from apps.agents.domains import host_matches_domain
from apps.agents.placeholders import fill_placeholders
from apps.agents.selectors import agents_state_for_files
from apps.agents.tools import find_agent_tool, find_app_tool, tool_spec_matches
from apps.applications.models import AppSnapshot
from apps.applications.selectors import snapshot_find
from apps.execution import templating
from apps.execution.egress.client import EgressPolicy, OutboundRequest, send
from apps.execution.egress.errors import EgressError
from apps.execution.models import SourceVersion, ToolCall
from apps.execution.pipeline import results
from apps.execution.pipeline.context import CallContext, Final
from apps.execution.scrubbing import redact_credential_fields, scrub
from apps.integrations.connected_accounts import (
    REASON_REVOKED,
    REASON_SCOPES,
    account_mark,
)
from apps.integrations.contracts import grant_needs_setup
from apps.integrations.grant_secrets import grant_read_secrets
from apps.integrations.models import ConnectedAccount, IntegrationGrant
from apps.integrations.oauth_configs import (
    config_for,
    config_is_complete,
    start_url,
)
from apps.integrations.selectors import grant_for_call
from apps.integrations.token_broker import (
    AccountUnusable,
    BrokerFailed,
    access_token_for,
)
from apps.secret_store.errors import SecretUnavailable

logger = logging.getLogger(__name__)

UNAPPROVED_CODES = {
    (ToolCall.Kind.AGENT_TOOL, SourceVersion.DRAFT): "draft_agents_config_unapproved",
    (ToolCall.Kind.AGENT_TOOL, SourceVersion.PUBLISHED): (
        "published_agents_config_missing_tool"
    ),
    (
        ToolCall.Kind.APP_ACTION,
        SourceVersion.DRAFT,
    ): "draft_app_tools_config_unapproved",
    (ToolCall.Kind.APP_ACTION, SourceVersion.PUBLISHED): (
        "published_agents_config_missing_app_tool"
    ),
}


def _unapproved(ctx: CallContext, detail: str) -> Final:
    call = ctx.tool_call
    code = UNAPPROVED_CODES[(call.kind, call.source_version)]
    return results.denied(code, detail, status=403)


def _approved_payload(ctx: CallContext) -> tuple[dict | None, str, bool]:
    """Return (payload, hash, mock_only) of the approval this call runs under."""
    app, version = ctx.app, ctx.tool_call.source_version
    if version == SourceVersion.PUBLISHED:
        snapshot = snapshot_find(app=app, kind=AppSnapshot.Kind.PUBLISHED)
        if snapshot is None or snapshot.approval is None:
            return None, "", False
        return snapshot.approval.payload, snapshot.approval.hash, False

    draft = snapshot_find(app=app, kind=AppSnapshot.Kind.DRAFT)
    state = agents_state_for_files(app=app, files=draft.files if draft else {})
    if state.state not in ("approved", "mock_only"):
        return None, state.hash or "", False
    return state.approval.payload, state.approval.hash, state.mock_only


def check_approval(ctx: CallContext) -> Final | None:
    """Step 2: the tool must be in the current approval, exactly as approved."""
    payload, approval_hash, mock_only = _approved_payload(ctx)
    ctx.approval_hash = approval_hash
    if payload is None:
        return _unapproved(
            ctx,
            f"The {ctx.tool_call.source_version} agents.json of this app has no "
            "current approval; an owner or admin must approve it first.",
        )
    call = ctx.tool_call
    if call.kind == ToolCall.Kind.APP_ACTION:
        spec = find_app_tool(payload, call.tool_name)
    else:
        spec = find_agent_tool(payload, call.agent_id, call.tool_name)
    if spec is None:
        owner = (
            "in appTools"
            if call.kind == ToolCall.Kind.APP_ACTION
            else f"for agent {call.agent_id!r}"
        )
        return _unapproved(
            ctx,
            f"The approved agents.json has no enabled tool {call.tool_name!r} {owner}.",
        )
    if call.sent_tool_spec is not None and not tool_spec_matches(
        spec, call.sent_tool_spec
    ):
        return _unapproved(
            ctx,
            f"The toolSpec sent for {call.tool_name!r} differs from the approved one; "
            "the server runs only the approved spec.",
        )
    ctx.payload, ctx.spec, ctx.mock_only = payload, spec, mock_only
    if mock_only:
        return results.mocked(ctx, results.MOCK_ONLY_APPROVAL)
    return None


def check_spec(ctx: CallContext) -> Final | None:
    """Step 3: the approved endpoint must still be a sane request to its domain."""
    url = fill_placeholders(str(ctx.spec.endpoint.get("url", "")))
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        host = ""
    if not host or not host_matches_domain(host, ctx.spec.integration["domain"]):
        return results.denied(
            "invalid_tool_spec",
            f"The approved endpoint host {host or '(none)'} is outside the integration "
            f"domain {ctx.spec.integration['domain']}.",
            status=400,
        )
    return None


def _auth_matches(spec, grant: IntegrationGrant) -> bool:
    if spec.kind == "oauth2":
        if grant.auth_type != IntegrationGrant.AuthType.OAUTH2:
            return False
        return grant.auth.get("providerKey") == spec.integration["auth"].get(
            "providerKey"
        )
    return grant.auth_type == IntegrationGrant.AuthType.STATIC


def find_grant(ctx: CallContext) -> Final | None:
    """Step 4: the app's own grant for (domain, keySlug), else mock data."""
    if ctx.spec.kind == "public":
        return None
    integration = ctx.spec.integration
    grant = grant_for_call(
        app=ctx.app, domain=integration["domain"], key_slug=integration["keySlug"]
    )
    if grant is None:
        return results.mocked(ctx, results.MOCK_NOT_SET_UP)
    if not _auth_matches(ctx.spec, grant):
        return results.denied(
            "integration_auth_mismatch",
            f"The grant for {grant.domain} uses {grant.auth_type} auth but the "
            f"approved tool uses {ctx.spec.kind}; sync integration-setup.json to "
            "match.",
            status=403,
        )
    ctx.grant = grant
    return None


def _reconnect(ctx: CallContext, reason: str, config=None) -> Final:
    """Mock data with what the triggering user must do to connect their account."""
    extra = {"reconnect": {"reason": reason}}
    if config is not None:
        extra["reconnect"]["startUrl"] = start_url(config)
    return results.mocked(ctx, reason, extra=extra)


def resolve_oauth(ctx: CallContext) -> Final | None:
    """Step 5: OAuth tools run with the triggering user's connected account."""
    if ctx.spec.kind != "oauth2":
        return None
    user_id = ctx.tool_call.triggering_user_id
    if user_id is None:
        return results.denied(
            "missing_triggering_user",
            "This OAuth tool runs as the user who started the run, and the run has "
            "none.",
            status=403,
        )
    auth = ctx.spec.integration["auth"]
    config = config_for(
        workspace_id=ctx.app.workspace_id, provider_key=auth.get("providerKey", "")
    )
    if not config_is_complete(config):
        return results.mocked(ctx, results.MOCK_OAUTH_NOT_CONFIGURED)

    account = ConnectedAccount.objects.filter(config=config, user_id=user_id).first()
    if account is None:
        return _reconnect(ctx, results.MOCK_OAUTH_NOT_CONNECTED, config)
    missing = set(auth.get("scopes") or []) - set(account.granted_scopes)
    if missing and account.status == ConnectedAccount.Status.ACTIVE:
        account_mark(account, ConnectedAccount.Status.NEEDS_RECONNECT, REASON_SCOPES)
    if account.status != ConnectedAccount.Status.ACTIVE:
        return _reconnect(ctx, account.status_reason or REASON_REVOKED, config)

    try:
        ctx.oauth_token = access_token_for(account.pk)
    except AccountUnusable as error:
        return _reconnect(ctx, error.reason, config)
    except BrokerFailed as error:
        logger.warning(
            "oauth token broker failed: call=%s code=%s", ctx.tool_call.pk, error.code
        )
        return results.failed(
            "oauth_token_broker_failed",
            "The OAuth token could not be refreshed now; retry later.",
            status=502,
            retryable=error.retryable,
        )
    return None


def read_static_secrets(ctx: CallContext) -> Final | None:
    """Step 6: a configured grant's secrets, read from the store for this call."""
    if ctx.spec.kind != "static":
        return None
    if grant_needs_setup(ctx.grant):
        return results.mocked(ctx, results.MOCK_NEEDS_SETUP)
    try:
        ctx.secrets = grant_read_secrets(ctx.grant)
    except SecretUnavailable as error:
        logger.warning(
            "secret read failed: call=%s secret=%s", ctx.tool_call.pk, error.secret_id
        )
        return results.failed(
            "secret_read_failed",
            "The secret store could not read this integration's secret; retry later.",
            status=500,
            retryable=True,
        )
    if not ctx.secrets:
        return results.mocked(ctx, results.MOCK_NO_SECRETS)
    return None


def render_template(ctx: CallContext) -> Final | tuple:
    """Step 7: substitute input as data and secrets server-side."""
    try:
        rendered = templating.render_request(
            ctx.spec.endpoint, ctx.tool_call.tool_input or {}, ctx.secrets
        )
    except templating.MissingSecret:
        return results.mocked(ctx, results.MOCK_MISSING_SECRET)
    except templating.TemplateError as error:
        return results.denied(error.code, error.detail, status=400, extra=error.extra)
    if ctx.oauth_token:
        # Validation refuses an Authorization header in OAuth tools, so this is
        # the only one the request carries.
        rendered = replace(
            rendered,
            headers={**rendered.headers, "Authorization": f"Bearer {ctx.oauth_token}"},
            injected_values=(*rendered.injected_values, ctx.oauth_token),
        )
    ctx.injected = tuple(rendered.injected_values)
    return rendered


EGRESS_ANSWERS = {
    # code: (HTTP status, outcome, category)
    "url_invalid": (400, "denied", "input"),
    "https_required": (400, "denied", "input"),
    "domain_lock_failed": (400, "denied", "input"),
    "private_ip_blocked": (400, "denied", "input"),
    "provider_redirect": (502, "denied", "provider"),
    "response_too_large": (502, "failed", "response_limit"),
    "request_too_large": (400, "denied", "input"),
    "dns_failure": (502, "failed", "network"),
    "connection_failed": (502, "failed", "network"),
    "tls_failed": (502, "failed", "network"),
    "egress_timeout": (502, "failed", "timeout"),
}


def _egress_final(ctx: CallContext, error: EgressError) -> Final:
    status, outcome, category = EGRESS_ANSWERS.get(
        error.code, (502, "failed", "network")
    )
    retryable = category == "network" and error.code in ("dns_failure",)
    # `details` carries the coarse reason and sanitised hosts only, never a
    # URL's path or query or a header value.
    details = error.public_details()
    body = {
        "error": error.code,
        "detail": scrub(str(error), ctx.injected),
        "details": details,
        "errorCategory": category,
        "retryable": retryable,
    }
    return Final(
        outcome=outcome,
        http_status=status,
        body=body,
        reason=f"{error.code}:{error.reason}",
        error_code=error.code,
        error_category=category,
        upstream_host=error.host or "",
        audit_metadata={
            "egressReason": error.reason,
            "egressPublicReason": details["reason"],
            "redirectHost": error.redirect_host,
        },
    )


def call_upstream(ctx: CallContext, rendered) -> Final:
    """Step 8 and 9: send through the egress client and hand back a bounded response."""
    request = OutboundRequest(
        method=rendered.method,
        url=rendered.url,
        headers=rendered.headers,
        body=rendered.body,
    )
    policy = EgressPolicy(
        allowed_domain=ctx.spec.integration["domain"], purpose="tool_call"
    )
    ctx.upstream_sent = True
    try:
        response = send(request, policy=policy)
    except EgressError as error:
        return _egress_final(ctx, error)

    data = _decode_body(response.body, response.headers)
    data = redact_credential_fields(scrub(data, ctx.injected))
    final = results.upstream_result(status=response.status, data=data)
    final.upstream_host = response.host
    final.request_bytes = response.request_bytes
    final.response_bytes = len(response.body)
    return final


def _decode_body(body: bytes, headers: dict[str, str]):
    text = body.decode("utf-8", errors="replace")
    content_type = next(
        (value for name, value in headers.items() if name.lower() == "content-type"), ""
    )
    if "json" in content_type or text[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text
