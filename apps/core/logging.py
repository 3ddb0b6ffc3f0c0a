"""JSON log lines, so that no logged value can forge another line."""

import json
import logging
import re
from datetime import UTC, datetime

from apps.core.middleware import current_request_id

# Bearer tokens of every kind, and the token in an invitation link. Django logs
# request paths of 4xx responses, and an invitation path carries its token.
_TOKEN = re.compile(r"\b(pat|run|inv)_[a-z0-9]{12}_[A-Za-z0-9_-]+")
_INVITATION_PATH = re.compile(r"(/invitations/)(?!joined/)[A-Za-z0-9_-]{20,}")
# OAuth values in a logged URL's query: the development server logs every
# request line, and the OAuth callback's carries the authorization code.
_OAUTH_QUERY_VALUE = re.compile(
    r"([?&;](?:code|state|session_state|access_token|id_token|refresh_token"
    r"|client_secret|token)=)[^&;#\s\"']+"
)


def mask_tokens(text: str) -> str:
    text = _TOKEN.sub(lambda match: f"{match.group(1)}_[redacted]", text)
    text = _OAUTH_QUERY_VALUE.sub(r"\1[redacted]", text)
    return _INVITATION_PATH.sub(r"\1[redacted]", text)


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object: time, level, logger, message, request id."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_tokens(record.getMessage()),
        }
        request_id = current_request_id.get()
        if request_id:
            entry["requestId"] = request_id
        if record.exc_info:
            entry["exception"] = mask_tokens(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=True)
