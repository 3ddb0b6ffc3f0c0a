"""Every catalogue name has a test that triggers it, and code under apps/ emits it.

The tests themselves are in the test_events_* modules, each marked with the name
it triggers. This module fails when a catalogue name has no such test, when a
test names an event the catalogue lacks, or when no product code names an
event at all.
"""

import ast
from pathlib import Path

from apps.audit.catalogue import EVENTS
from tests.audit import (
    test_events_apps,
    test_events_credentials,
    test_events_people,
)
from tests.audit.catalogue_support import TESTED

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "apps" / "audit" / "catalogue.py"
EVENT_MODULES = (test_events_apps, test_events_credentials, test_events_people)


def strings_in(files) -> set[str]:
    """Return every string literal in `files`."""
    found = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
    return found


def product_files() -> list[Path]:
    files = (ROOT / "apps").rglob("*.py")
    return [path for path in files if path != CATALOGUE]


def unemitted(names, files) -> list[str]:
    """Return the names of `names` that no file of `files` spells out."""
    literals = strings_in(files)
    return sorted(name for name in names if name not in literals)


def test_each_module_marks_tests():
    marking = {test.split("::")[0] for tests in TESTED.values() for test in tests}

    assert marking == {Path(module.__file__).name for module in EVENT_MODULES}


def test_every_catalogue_name_tested():
    missing = sorted(set(EVENTS) - set(TESTED))

    assert missing == [], f"no test triggers these catalogue events: {missing}"


def test_every_tested_name_in_catalogue():
    unknown = sorted(set(TESTED) - set(EVENTS))

    assert unknown == [], f"tests name events the catalogue lacks: {unknown}"


def test_each_name_tested_once():
    repeated = {name: tests for name, tests in TESTED.items() if len(tests) > 1}

    assert repeated == {}


def test_every_catalogue_name_emitted():
    missing = unemitted(EVENTS, product_files())

    assert missing == [], f"no code under apps/ emits these events: {missing}"


def test_unemitted_name_reported(tmp_path):
    source = tmp_path / "emitter.py"
    source.write_text('EVENT = "team.created"\n')

    assert unemitted(["team.created", "team.archived"], [source]) == ["team.archived"]


def test_name_in_comment_not_emitted(tmp_path):
    source = tmp_path / "emitter.py"
    source.write_text("# team.archived is not written yet\n")

    assert unemitted(["team.archived"], [source]) == ["team.archived"]
