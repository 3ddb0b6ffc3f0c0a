"""`GET|PUT …/apps/{a}/files`: the app's files as a map of path to text."""

import re

from django.db import transaction
from rest_framework.response import Response

from apps.agents.api.views import problems_body
from apps.agents.hashing import parse_json_text
from apps.agents.selectors import agents_state_for_files
from apps.applications.api.guard import AppAPIView
from apps.applications.drafts import draft_write
from apps.applications.models import INTEGRATION_SETUP_FILE, AppSnapshot
from apps.applications.selectors import snapshot_find
from apps.core.errors import Conflict, ValidationFailed
from apps.integrations.services import setup_grants_sync, setup_problems

UPDATE_DENIED = ("apps:update", "forbidden", "Your role cannot change apps here.")
PATH = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$")
MAX_PATH_LENGTH = 255
VERSIONS = {"draft": AppSnapshot.Kind.DRAFT, "published": AppSnapshot.Kind.PUBLISHED}


def _path_problem(path: str) -> str | None:
    if len(path) > MAX_PATH_LENGTH:
        return f"The path is longer than {MAX_PATH_LENGTH} characters."
    if not PATH.match(path) or ".." in path.split("/"):
        return (
            "Paths are relative, with segments of letters, digits, '.', '_' and "
            "'-' that do not start with '.'."
        )
    return None


def _checked_changes(body) -> dict[str, str | None]:
    files = body.get("files") if isinstance(body, dict) else None
    if not isinstance(files, dict) or not files:
        raise ValidationFailed(
            {"files": ["Send an object of path to text, or to null to delete."]}
        )
    fields: dict[str, list[str]] = {}
    for path, text in files.items():
        problem = _path_problem(str(path))
        if problem is None and text is not None and not isinstance(text, str):
            problem = "Send the file's text as a string, or null to delete it."
        if problem:
            fields[f"files.{path}"] = [problem]
    if fields:
        raise ValidationFailed(fields)
    return files


def _setup_document(files: dict[str, str]):
    """Return (document, problems) of the integration-setup.json in `files`."""
    text = files.get(INTEGRATION_SETUP_FILE)
    if text is None:
        return None, {}
    try:
        document = parse_json_text(text)
    except ValueError as error:
        return None, {"$": [f"integration-setup.json is not valid JSON: {error}"]}
    return document, setup_problems(document)


class AppFilesView(AppAPIView):
    """Builders read and write the draft; other viewers read the published files."""

    permissions = {"PUT": UPDATE_DENIED}

    def _kind(self) -> str:
        version = self.request.query_params.get("version")
        if version is None:
            return AppSnapshot.Kind.DRAFT if self.is_builder else "published"
        if version not in VERSIONS:
            raise ValidationFailed({"version": ["Send version draft or published."]})
        if version == "draft" and not self.is_builder:
            self.deny(
                "forbidden",
                "Only the app's creator, its collaborators, owners and admins read "
                "the draft.",
            )
        return VERSIONS[version]

    def _body(self, kind: str) -> dict:
        snapshot = snapshot_find(app=self.app, kind=kind)
        if snapshot is None:
            raise Conflict(
                "app_not_published",
                "The app has never been published; builders read its draft.",
            )
        files = dict(snapshot.files)
        agents = agents_state_for_files(app=self.app, files=files)
        _, setup = _setup_document(files)
        return {
            "version": kind,
            "files": files,
            "totalBytes": snapshot.total_bytes,
            "agentsHash": agents.hash,
            "problems": {
                "agents.json": problems_body(agents.problems),
                INTEGRATION_SETUP_FILE: setup,
            },
            "updatedAt": snapshot.updated_at.isoformat(),
        }

    def get(self, request, workspace_id, app_id):
        return Response(self._body(self._kind()))

    def put(self, request, workspace_id, app_id):
        self.require_builder()
        changes = _checked_changes(request.data)
        with transaction.atomic():
            snapshot = draft_write(
                app=self.app,
                changes=changes,
                actor=self.actor,
                source=self.audit_source,
            )
            document, problems = _setup_document(snapshot.files)
            if (
                INTEGRATION_SETUP_FILE in changes
                and document is not None
                and not problems
            ):
                setup_grants_sync(
                    app=self.app,
                    setup_config=document,
                    actor=self.actor,
                    source=self.audit_source,
                )
        return Response(self._body(AppSnapshot.Kind.DRAFT))
