"""The arrows between the parts (ARCHITECTURE.md): core never imports Ray; core.data knows no model
(nothing of core.learn or core.serve); core.learn knows no XML (nothing of core.data.formats); the
Ray-free debug search imports no Ray. Checked on the modules' real imports, in fresh interpreters."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def modules_under(package: str) -> list[str]:
    base = ROOT.joinpath(*package.split("."))
    return sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts) for p in base.rglob("*.py") if p.name != "__init__.py"
    )


def imported_modules(module: str) -> set[str]:
    """Every module a module's source imports (module level and inside functions)."""
    tree = ast.parse(ROOT.joinpath(*module.split(".")).with_suffix(".py").read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def run_blocked(modules: list[str], blocked: str) -> subprocess.CompletedProcess:
    code = (
        "import sys, importlib\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name == {blocked!r} or name.startswith({blocked + '.'!r}):\n"
        f"            raise ImportError({blocked!r} + ' is blocked here')\n"
        "sys.meta_path.insert(0, Block())\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "print('ok', len(sys.modules))\n"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_core_never_imports_ray():
    modules = modules_under("core")
    assert "core.learn.train_loop" in modules and "core.data.formats.xmeml" in modules
    r = run_blocked(modules, "ray")
    assert r.returncode == 0 and r.stdout.startswith("ok"), r.stderr


def test_debug_search_and_report_run_without_ray():
    r = run_blocked(["distributed.debug", "distributed.samplers", "distributed.settings", "distributed.report"], "ray")
    assert r.returncode == 0 and r.stdout.startswith("ok"), r.stderr


@pytest.mark.parametrize(
    "package, forbidden",
    [
        ("core.data", ("core.learn", "core.serve")),  # data knows no model
        ("core.learn", ("core.data.formats", "core.data.synth", "core.serve")),  # learn knows no XML
        ("core", ("distributed", "search_spaces", "scripts")),  # nothing runs back up
    ],
)
def test_arrows(package, forbidden):
    bad = [
        f"{m} imports {i}"
        for m in modules_under(package)
        for i in sorted(imported_modules(m))
        if any(i == f or i.startswith(f + ".") for f in forbidden)
    ]
    assert not bad, bad


MAX_MODULE_LINES = 550  # issue 10: a module a newcomer can read at once; split by responsibility beyond it


def test_no_module_of_core_or_distributed_is_over_the_limit():
    long = {
        str(p.relative_to(ROOT)): n
        for package in ("core", "distributed")
        for p in ROOT.joinpath(package).rglob("*.py")  # __init__ files count too
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"
