"""The one-way dependency rule of the house style, enforced on every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("nas", "space", "evaluators", "kernels", "storage")
ALLOWED = {
    "kernels": set(),
    "storage": set(),
    "space": {"kernels"},
    "evaluators": {"space", "kernels", "storage"},
    "nas": {"space", "evaluators", "kernels", "storage"},
}


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(PACKAGES)


def test_imports_follow_the_one_way_rule() -> None:
    violations = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for target in _imported_packages(path) - {package}:
                if target not in ALLOWED[package]:
                    violations.append(f"{path.relative_to(ROOT)} imports {target}")
    assert not violations, "forbidden imports:\n" + "\n".join(violations)


def test_the_checker_sees_a_forbidden_edge(tmp_path: Path) -> None:
    bad = tmp_path / "mod.py"
    bad.write_text("import nas\nfrom evaluators import predict\n")
    assert _imported_packages(bad) == {"nas", "evaluators"}
