"""The README's two commands: `run` serves the product locally, `test` runs the tests.

Both need only Python 3.11. Each creates the virtual environment `.venv` beside
this repository when no virtual environment is active, installs the pinned
requirements once (again only when a requirements file changes), and then runs.
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
REQUIREMENTS = {"run": "requirements/base.txt", "test": "requirements/dev.txt"}


def _in_virtualenv() -> bool:
    return sys.prefix != sys.base_prefix


def _python() -> Path:
    if _in_virtualenv():
        return Path(sys.executable)
    if not VENV.exists():
        print(f"Creating the virtual environment {VENV.name}/ …", flush=True)
        venv.create(VENV, with_pip=True)
    return VENV / "bin" / "python"


def _requirements_digest(requirements: str) -> str:
    digest = hashlib.sha256()
    for path in sorted((ROOT / "requirements").glob("*.txt")):
        digest.update(path.read_bytes())
    digest.update(requirements.encode())
    return digest.hexdigest()


def _install(python: Path, requirements: str) -> None:
    prefix = Path(
        subprocess.check_output(
            [python, "-c", "import sys; print(sys.prefix)"], text=True
        ).strip()
    )
    marker = prefix / f".second-{Path(requirements).stem}.sha256"
    wanted = _requirements_digest(requirements)
    if marker.exists() and marker.read_text() == wanted:
        return
    print(f"Installing {requirements} …", flush=True)
    command = [python, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.check_call([*command, "-r", str(ROOT / requirements)])
    marker.write_text(wanted)


def _manage(python: Path, *arguments: str) -> None:
    subprocess.check_call([python, str(ROOT / "manage.py"), *arguments], cwd=ROOT)


def run(arguments: list[str]) -> int:
    """Migrate, create the local owner and demo workspace, and serve."""
    python = _python()
    _install(python, REQUIREMENTS["run"])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    _manage(python, "migrate", "--no-input", "-v", "0")
    _manage(python, "bootstrap_local")
    public = urlsplit(os.environ.get("SECOND_PUBLIC_URL", "http://127.0.0.1:8000"))
    address = f"{public.hostname}:{public.port or 80}"
    print(f"Serving on {public.scheme}://{address}/ (admin at /admin/).", flush=True)
    command = [python, str(ROOT / "manage.py"), "runserver", address, "--noreload"]
    os.execv(python, [*map(str, command), *arguments])
    return 0


def test(arguments: list[str]) -> int:
    """Run the test suite with pytest; extra arguments go to pytest."""
    python = _python()
    _install(python, REQUIREMENTS["test"])
    return subprocess.call([python, "-m", "pytest", *arguments], cwd=ROOT)


def main() -> int:
    commands = {"run": run, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print("usage: python3 scripts/dev.py run|test [arguments]", file=sys.stderr)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
