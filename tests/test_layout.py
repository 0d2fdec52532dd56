"""Issue 7, item 1: the layout shows the architecture, and stays that way.

Imports run one way (web -> services -> store -> engine), a view is one screen at most and
never queries, and writes go through the one transaction helper. Read from the source with
``ast``, so a new module is checked as soon as it exists.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "callgoose"
# What each layer may import from callgoose (besides itself). Entry points (cli, worker,
# server, the factory) may import anything.
ALLOWED = {
    "engine": {"engine"},
    "store": {"store", "engine", "extensions", "clock"},
    "services": {"services", "store", "engine", "extensions", "clock", "delivery", "channels", "importers"},
    # reading another tool's saved export into a document, a plan and a rota: pure, like the engine
    "importers": {"importers", "engine"},
    "jobs": {"jobs", "services", "store", "engine", "clock", "delivery", "channels"},
    "delivery": {"delivery", "engine"},
    # the channel registry: each channel's fields, wording and sending (over delivery's transports)
    "channels": {"channels", "engine", "delivery", "clock"},
    "web": {"web", "services", "engine", "extensions", "clock", "channels"},
}
MAX_VIEW_LINES = 15


def modules(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


def callgoose_imports(path: Path) -> set[str]:
    """The first part below ``callgoose`` of every module this file imports."""
    tree = ast.parse(path.read_text())
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[:len(package) - node.level + 1])
                target = base + (node.module.split(".") if node.module else [])
                if len(target) == 1:  # "from .. import clock": the names are modules
                    found.update(alias.name for alias in node.names)
                else:
                    found.add(target[1])
            elif node.module and node.module.startswith("callgoose."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("callgoose."))
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_imports_run_one_way(layer):
    wrong = {str(path.relative_to(PACKAGE)): sorted(callgoose_imports(path) - ALLOWED[layer])
             for path in modules(layer)}
    assert {k: v for k, v in wrong.items() if v} == {}


@pytest.mark.parametrize("layer", ["engine", "store", "services", "jobs", "importers"])
def test_only_the_web_layer_knows_flask(layer):
    """Services take plain values and return them: no request, no g, no current_app."""
    users = []
    for path in modules(layer):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            users += [f"{path.relative_to(PACKAGE)}: {name}" for name in names
                      if name.split(".")[0] in ("flask", "werkzeug", "flask_login", "flask_wtf")
                      and name != "werkzeug.security"]  # password hashing is not the web
    assert users == []


def views():
    """Every function under a ``@bp.<method>`` or ``@bp.route`` decorator in web/."""
    for path in modules("web"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and any(
                    isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute)
                    and isinstance(d.func.value, ast.Name) and d.func.value.id == "bp"
                    for d in node.decorator_list):
                yield path, node


def body_lines(node: ast.FunctionDef) -> int:
    """Lines of the body, the docstring left out."""
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return body[-1].end_lineno - body[0].lineno + 1 if body else 0


def test_there_are_views_to_check():
    assert len(list(views())) > 40


def test_views_are_short():
    long = {f"{path.name}:{node.name}": body_lines(node) for path, node in views()
            if body_lines(node) > MAX_VIEW_LINES}
    assert long == {}


def test_the_web_layer_never_queries_or_commits():
    """No session, no statement, no model in web/: a view calls a service."""
    found = []
    for path in modules("web"):
        source = path.read_text()
        for word in ("db.session", "select(", "begin_session_write", ".commit()", "store.models", "hotpath"):
            if word in source and not (word == "db.session" and path.name == "__init__.py"
                                       and source.count(word) == 1):  # the teardown that ends it
                found.append(f"{path.name}: {word}")
    assert sorted(found) == sorted(f"errors.py: {w}" for w in ("db.session",))  # rolls back a failed request


def test_writes_go_through_the_one_transaction_helper():
    """Outside store/transactions.py, no service commits, begins a write or opens a cursor on its own."""
    found = []
    for path in modules("services") + modules("jobs"):
        source = path.read_text()
        for word in ("db.session.commit(", "begin_session_write(", "write_cursor(", "read_cursor("):
            if word in source:
                found.append(f"{path.relative_to(PACKAGE)}: {word}")
    assert found == []


def blueprint_modules() -> set[str]:
    """The modules of web/ that define a blueprint (found in the source, not listed)."""
    return {path.stem for path in modules("web") if "bp = Blueprint(" in path.read_text()}


def test_blueprints_are_found_and_each_is_registered():
    from callgoose import create_app

    found = blueprint_modules()
    assert {"api", "ingest", "paging", "schedules", "outside"} <= found
    registered = {bp.import_name.rsplit(".", 1)[1] for bp in create_app({"TESTING": True,
                  "SQLALCHEMY_DATABASE_URI": "sqlite://"}).blueprints.values()}
    assert found == registered


def test_views_do_not_import_each_other():
    """A blueprint module uses forms, params, presenters and access, never another blueprint's module."""
    found = []
    names = blueprint_modules()
    for name in sorted(names):
        tree = ast.parse((PACKAGE / "web" / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                imported = {node.module} if node.module else {a.name for a in node.names}
                found += [f"{name} imports {m}" for m in imported & names]
    assert found == []
