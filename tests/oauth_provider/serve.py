"""Start the test OAuth provider over HTTPS on 127.0.0.1.

    python -m tests.oauth_provider.serve --port 0 --host-name auth.provider.example \
        --cert CERT --key KEY --state-dir DIR [--redirect-uri URI ...]

It migrates the SQLite database in DIR, registers the users and clients of
accounts.py (again on every start, so a reused DIR ends up the same), prints
`LISTENING <port>` on stdout once the socket listens, and serves until SIGTERM
or SIGINT. Redirect URIs come from --redirect-uri and from the whitespace
separated OAUTH_PROVIDER_REDIRECT_URIS. The only socket it opens is its own
listening one.
"""

import argparse
import os
import signal
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from socketserver import TCPServer, ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from tests.oauth_provider import accounts

LOOPBACK = "127.0.0.1"
SETTINGS_MODULE = "tests.oauth_provider.settings"
# Bounds every read and write, so a stalled client keeps one thread busy for
# at most this long.
SOCKET_TIMEOUT_SECONDS = 10.0
PARENT_CHECK_SECONDS = 1.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--host-name", default=accounts.DEFAULT_HOST_NAME)
    parser.add_argument("--cert", type=Path, required=True, help="PEM chain")
    parser.add_argument("--key", type=Path, required=True, help="PEM private key")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        help="a redirect URI to register for every client (repeatable)",
    )
    return parser.parse_args(argv)


def redirect_uris(arguments: Iterable[str]) -> list[str]:
    """Return the redirect URIs to register, without duplicates, in order."""
    listed = os.environ.get(accounts.ENV_REDIRECT_URIS, "").split()
    uris = [accounts.DEFAULT_REDIRECT_URI, *listed, *arguments]
    return list(dict.fromkeys(uri.strip() for uri in uris if uri.strip()))


def configure_django(args: argparse.Namespace) -> None:
    """Point the settings module at the state folder and host name, then set up."""
    args.state_dir.mkdir(parents=True, exist_ok=True)
    os.environ[accounts.ENV_STATE_DIR] = str(args.state_dir.resolve())
    os.environ[accounts.ENV_HOST_NAME] = args.host_name
    # Set, not defaulted, because an inherited value would name the product's
    # settings.
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE

    import django

    django.setup()


def prepare_database(uris: list[str]) -> None:
    """Migrate, then create or update the users and the client applications."""
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    users = [_ensure_user(user) for user in accounts.USERS]
    for client in accounts.CLIENTS:
        _ensure_application(client, uris, owner=users[0])


def _ensure_user(spec: accounts.ProviderUser):
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username=spec.username)
    user.email = spec.email
    user.first_name = spec.first_name
    user.last_name = spec.last_name
    user.set_password(spec.password)
    user.save()
    return user


def _ensure_application(spec: accounts.ProviderClient, uris: list[str], owner):
    from oauth2_provider.models import get_application_model

    model = get_application_model()
    application = model.objects.filter(client_id=spec.client_id).first()
    if application is None:
        application = model(client_id=spec.client_id)
    application.name = spec.name
    application.user = owner
    application.client_type = model.CLIENT_CONFIDENTIAL
    application.authorization_grant_type = model.GRANT_AUTHORIZATION_CODE
    # The secret is hashed when saved. Saving the plain value on every start
    # keeps it valid whatever an earlier start stored.
    application.client_secret = spec.client_secret
    application.hash_client_secret = True
    application.redirect_uris = " ".join(uris)
    application.algorithm = model.RS256_ALGORITHM
    application.skip_authorization = False
    application.save()


def https_environ(app: Callable) -> Callable:
    """Wrap a WSGI app so it treats every request as HTTPS, as it arrived."""

    def application(environ, start_response):
        environ["wsgi.url_scheme"] = "https"
        environ["HTTPS"] = "on"
        return app(environ, start_response)

    return application


class QuietHandler(WSGIRequestHandler):
    """wsgiref's handler with a socket timeout and no access log."""

    timeout = SOCKET_TIMEOUT_SECONDS

    def log_message(self, format: str, *args: object) -> None:
        pass


class TLSWSGIServer(ThreadingMixIn, WSGIServer):
    """A threaded WSGI server that runs each TLS handshake in its own thread."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(
        self, address: tuple[str, int], context: ssl.SSLContext, host_name: str
    ) -> None:
        self.context = context
        self.host_name = host_name
        super().__init__(address, QuietHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn, which can send a reverse
        # DNS query. The public host name is known, so this one sends none.
        TCPServer.server_bind(self)
        self.server_name = self.host_name
        self.server_port = self.server_address[1]
        self.setup_environ()

    def finish_request(self, request, client_address) -> None:  # type: ignore[override]
        request.settimeout(SOCKET_TIMEOUT_SECONDS)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            tls.close()

    def handle_error(self, request, client_address) -> None:  # type: ignore[override]
        error = sys.exc_info()[1]
        sys.stderr.write(f"request from {client_address[0]} failed: {error!r}\n")


def make_server(args: argparse.Namespace) -> TLSWSGIServer:
    """Bind the TLS server to 127.0.0.1 and attach the Django application."""
    from django.core.wsgi import get_wsgi_application

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile=args.cert, keyfile=args.key)
    server = TLSWSGIServer((LOOPBACK, args.port), context, args.host_name)
    server.set_app(https_environ(get_wsgi_application()))
    return server


def stop_on_signals(server: TLSWSGIServer) -> None:
    """Make SIGTERM and SIGINT end serve_forever.

    shutdown() waits for serve_forever to return, so it runs in another thread
    than the one serving.
    """

    def handler(_signum: int, _frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def stop_with_parent(server: TLSWSGIServer) -> None:
    """Shut the server down once the process that started it has exited.

    A test run that dies without stopping its provider then leaves no server
    behind for longer than one check interval.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        server.shutdown()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    """Prepare the database, then serve until a signal stops the server."""
    args = parse_args(argv)
    configure_django(args)
    prepare_database(redirect_uris(args.redirect_uri))
    server = make_server(args)
    stop_on_signals(server)
    stop_with_parent(server)
    sys.stdout.write(f"LISTENING {server.server_address[1]}\n")
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
