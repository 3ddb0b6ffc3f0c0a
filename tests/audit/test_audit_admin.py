"""The read-only audit event list in the admin, scoped to governed workspaces."""

import pytest
from auditlog.models import LogEntry
from django.contrib import admin
from django.test import Client, RequestFactory

from apps.audit.admin import AuditEventAdmin
from apps.audit.models import AuditEvent
from apps.audit.services import Actor, AuditEntry, Target, audit_record

LIST = "/admin/audit/auditevent/"


def record(workspace, summary: str, event_name="app.created", outcome="success"):
    entry = AuditEntry(
        event_name=event_name,
        outcome=outcome,
        summary=summary,
        actor=Actor.system(display="release bot"),
        target=Target(type="app", id="app-1", name=f"target of {summary}"),
    )
    return audit_record(workspace=workspace, entry=entry)


@pytest.fixture
def events(world):
    """One event in workspace A, one in B and one on the global chain."""
    return {
        "mine": record(world.workspace, "Alpha summary in A"),
        "foreign": record(world.other_workspace, "Beta summary in B"),
        "global": record(None, "Gamma global summary", "auth.login_failed", "failure"),
    }


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def change_url(event) -> str:
    return f"{LIST}{event.pk}/change/"


def test_list_shows_own_event(world, events):
    content = logged_in(world.owner.user).get(LIST).content.decode()
    assert str(events["mine"].pk) in content


def test_list_hides_foreign_event(world, events):
    content = logged_in(world.owner.user).get(LIST).content.decode()
    assert str(events["foreign"].pk) not in content


def test_list_hides_global_event(world, events):
    content = logged_in(world.owner.user).get(LIST).content.decode()
    assert str(events["global"].pk) not in content


def test_admin_role_sees_list(world, events):
    content = logged_in(world.admin.user).get(LIST).content.decode()
    assert str(events["mine"].pk) in content


def test_member_redirected_to_login(world, events):
    response = logged_in(world.member.user).get(LIST)
    assert response["Location"].startswith("/admin/login/")


def test_list_columns(world, events):
    content = logged_in(world.owner.user).get(LIST).content.decode()
    columns = ["column-occurred_at", "column-event_name", "column-target_name"]
    assert [column for column in columns if column not in content] == []


def test_search_finds_summary(world, events):
    extra = record(world.workspace, "Delta searchable summary")
    client = logged_in(world.owner.user)
    content = client.get(LIST, {"q": "Delta searchable"}).content.decode()
    assert str(extra.pk) in content


def test_search_skips_other_rows(world, events):
    record(world.workspace, "Delta searchable summary")
    client = logged_in(world.owner.user)
    content = client.get(LIST, {"q": "Delta searchable"}).content.decode()
    assert str(events["mine"].pk) not in content


def test_filter_by_outcome(world, events):
    failed = record(world.workspace, "Epsilon", "tool.custom.failed", "failure")
    client = logged_in(world.owner.user)
    content = client.get(LIST, {"outcome": "failure"}).content.decode()
    assert str(failed.pk) in content
    assert str(events["mine"].pk) not in content


def test_filter_by_category(world, events):
    client = logged_in(world.owner.user)
    content = client.get(LIST, {"category": "reviews"}).content.decode()
    assert str(events["mine"].pk) not in content


def test_filter_choices_scoped(world, events):
    record(world.other_workspace, "Zeta", "oauth.revoked")
    content = logged_in(world.owner.user).get(LIST).content.decode()
    assert "oauth.revoked" not in content


def test_add_page_forbidden(world, events):
    response = logged_in(world.owner.user).get(f"{LIST}add/")
    assert response.status_code == 403


def test_delete_page_forbidden(world, events):
    path = f"{LIST}{events['mine'].pk}/delete/"
    assert logged_in(world.owner.user).get(path).status_code == 403


def test_change_page_read_only(world, events):
    content = logged_in(world.owner.user).get(change_url(events["mine"])).content
    assert b'name="summary"' not in content


def test_change_page_shows_summary(world, events):
    content = logged_in(world.owner.user).get(change_url(events["mine"])).content
    assert b"Alpha summary in A" in content


def test_change_post_forbidden(world, events):
    client = logged_in(world.owner.user)
    response = client.post(change_url(events["mine"]), {"summary": "rewritten"})
    assert response.status_code == 403


def test_change_post_keeps_event(world, events):
    client = logged_in(world.owner.user)
    client.post(change_url(events["mine"]), {"summary": "rewritten"})
    events["mine"].refresh_from_db()
    assert events["mine"].summary == "Alpha summary in A"


def test_foreign_change_page_404(world, events):
    response = logged_in(world.owner.user).get(change_url(events["foreign"]))
    assert response.status_code == 404


def test_global_change_page_404(world, events):
    response = logged_in(world.owner.user).get(change_url(events["global"]))
    assert response.status_code == 404


def model_admin_request(user):
    request = RequestFactory().get(LIST)
    request.user = user
    return request


def test_no_add_permission(world):
    model_admin = AuditEventAdmin(AuditEvent, admin.site)
    request = model_admin_request(world.owner.user)
    assert model_admin.has_add_permission(request) is False


def test_no_delete_permission(world, events):
    model_admin = AuditEventAdmin(AuditEvent, admin.site)
    request = model_admin_request(world.owner.user)
    assert model_admin.has_delete_permission(request, events["mine"]) is False


def test_no_change_permission(world, events):
    model_admin = AuditEventAdmin(AuditEvent, admin.site)
    request = model_admin_request(world.owner.user)
    assert model_admin.has_change_permission(request, events["mine"]) is False


def test_log_entry_admin_unregistered():
    assert not admin.site.is_registered(LogEntry)


# Reading the log in admin is audited, as reading it through the API is.


def viewed_in(workspace):
    return AuditEvent.objects.filter(workspace=workspace, event_name="audit.viewed")


def test_list_read_recorded(world, events):
    logged_in(world.owner.user).get(LIST)

    viewed = viewed_in(world.workspace).get()

    assert viewed.actor_id == str(world.owner.user.pk)
    assert viewed.actor_role == "owner"
    assert viewed.source_trust == "admin_session"
    assert viewed.metadata == {"view": "admin_list"}


def test_change_page_read_recorded(world, events):
    logged_in(world.admin.user).get(change_url(events["mine"]))

    viewed = viewed_in(world.workspace).get()

    assert viewed.actor_id == str(world.admin.user.pk)
    assert viewed.metadata == {"view": "admin_detail"}


def test_admin_reads_recorded_once(world, events):
    client = logged_in(world.owner.user)
    client.get(LIST)
    client.get(change_url(events["mine"]))
    client.get(LIST)

    assert viewed_in(world.workspace).count() == 1


def test_foreign_page_records_nothing(world, events):
    logged_in(world.owner.user).get(change_url(events["foreign"]))

    assert not viewed_in(world.other_workspace).exists()
    assert not viewed_in(world.workspace).exists()


def test_member_list_records_nothing(world, events):
    logged_in(world.member.user).get(LIST)

    assert not viewed_in(world.workspace).exists()


def test_change_post_records_nothing(world, events):
    logged_in(world.owner.user).post(change_url(events["mine"]), {"summary": "x"})

    assert not viewed_in(world.workspace).exists()
