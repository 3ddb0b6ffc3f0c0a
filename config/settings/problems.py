"""Collect configuration problems so that one start-up error lists all of them."""

from django.core.exceptions import ImproperlyConfigured

# Variables that only the test settings read. Any other settings module refuses to
# start while one of them is set, because each one weakens the egress guard.
TEST_ONLY_VARIABLES = (
    "SECOND_EGRESS_RESOLVE",
    "SECOND_EGRESS_EXTRA_CA",
    "SECOND_EGRESS_DIAL_LOG",
    "WORKOS_BASE_URL",
)


class SettingsProblems:
    """A list of configuration problems, one line each, raised together."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, variable: str, message: str) -> None:
        # Django imports a settings module again after it failed once, and the
        # base module's list survives, so a problem may be added twice.
        line = f"{variable}: {message}"
        if line not in self.lines:
            self.lines.append(line)

    def raise_if_any(self, module: str) -> None:
        if not self.lines:
            return
        listing = "\n".join(f"  - {line}" for line in self.lines)
        raise ImproperlyConfigured(
            f"{module} cannot start; fix these settings:\n{listing}"
        )


def add_runtime_problems(
    problems: SettingsProblems, runtime: str, url: str, *, allow_scripted: bool
) -> None:
    allowed = ("none", "webhook", "scripted") if allow_scripted else ("none", "webhook")
    if runtime not in allowed:
        problems.add(
            "SECOND_AGENT_RUNTIME",
            f"{runtime!r} is not one of {', '.join(allowed)}; `scripted` exists under "
            "the test settings only.",
        )
    if runtime == "webhook" and not url.startswith("https://"):
        problems.add(
            "SECOND_AGENT_RUNTIME_URL",
            "is required with SECOND_AGENT_RUNTIME=webhook and must be an https URL.",
        )


def add_test_only_problems(problems: SettingsProblems, environ) -> None:
    for variable in TEST_ONLY_VARIABLES:
        if environ.get(variable):
            problems.add(
                variable,
                "is read by the test settings only; unset it for this process.",
            )
