"""`manage.py egress_check URL --domain D [--resolve HOST=IP]...`: judge a destination.

Applies the integration domain rules to D, and the egress rules to the URL and
its addresses under the running settings, without opening a connection. The
first output line is `allowed <host> <address-to-dial>` (exit 0) or
`rejected <code> <reason>` (exit 1). Invalid arguments exit 2.
"""

import ipaddress

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.execution.egress.client import EgressPolicy, check_destination
from apps.execution.egress.errors import EgressError
from apps.execution.egress.resolver import override_answers
from apps.execution.egress.urls import normalize_host

EXIT_REJECTED = 1
EXIT_BAD_ARGUMENTS = 2


class Command(BaseCommand):
    help = (
        "Check whether a tool with integration domain D may call URL, under the "
        "running settings, without opening a connection."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("url", help="The URL the tool would call.")
        parser.add_argument(
            "--domain",
            required=True,
            help="The tool's integration domain, as written in agents.json.",
        )
        parser.add_argument(
            "--resolve",
            action="append",
            default=[],
            metavar="HOST=IP",
            help="Use IP as an address of HOST instead of DNS. Repeat it to give a "
            "host several addresses.",
        )

    def handle(self, *args: object, **options: object) -> None:
        answers = parse_resolve_options(options["resolve"])  # type: ignore[arg-type]
        domain = self._judge_domain(str(options["domain"]))

        policy = EgressPolicy(allowed_domain=domain, purpose="egress_check")
        try:
            with override_answers(answers):
                destination = check_destination(str(options["url"]), policy=policy)
        except EgressError as error:
            self.stdout.write(f"rejected {error.code} {error.reason or '-'}")
            raise CommandError(str(error), returncode=EXIT_REJECTED) from None

        parsed = destination.parsed
        self.stdout.write(f"allowed {parsed.host} {destination.address_to_dial}")
        self.stdout.write(f"addresses: {' '.join(destination.addresses)}")
        self.stdout.write(f"port: {destination.port_to_dial}")
        if destination.waiver:
            self.stdout.write(f"public-address rule waived: {destination.waiver}")

    def _judge_domain(self, value: str) -> str:
        """Return the normalised domain, or reject it by the agents.json rules."""
        try:
            from apps.agents.domains import domain_problems, normalize_domain
        except ImportError:
            # NOTE: without the agents app only the egress rules are applied.
            self.stderr.write("Domain rules are unavailable; checking the URL only.")
            return value

        problems = domain_problems(value)
        if problems:
            self.stdout.write("rejected domain_lock_failed invalid_domain")
            for problem in problems:
                self.stdout.write(problem)
            raise CommandError(
                f"The domain {value!r} breaks the integration domain rules.",
                returncode=EXIT_REJECTED,
            )
        return normalize_domain(value)


def parse_resolve_options(values: list[str]) -> dict[str, list[str]]:
    """Parse repeated `HOST=IP` options into {host: [addresses in order]}."""
    answers: dict[str, list[str]] = {}
    for value in values:
        host_text, separator, address_text = value.partition("=")
        if not separator or not host_text or not address_text:
            raise _bad_argument(f"--resolve {value!r} is not of the form HOST=IP.")
        try:
            host = normalize_host(host_text)
        except EgressError:
            raise _bad_argument(
                f"--resolve {value!r} does not start with a valid host name."
            ) from None
        try:
            address = ipaddress.ip_address(address_text.strip("[]"))
        except ValueError:
            raise _bad_argument(
                f"--resolve {value!r} does not end with an IP address."
            ) from None
        answers.setdefault(host, []).append(str(address))
    return answers


def _bad_argument(message: str) -> CommandError:
    return CommandError(message, returncode=EXIT_BAD_ARGUMENTS)
