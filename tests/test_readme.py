"""The README's commands and examples work as written."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks(language: str, section: str | None = None) -> list[str]:
    text = README
    if section is not None:
        start = text.index(f"## {section}")
        end = text.find("\n## ", start + 1)
        text = text[start:end if end != -1 else None]
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_readme_opens_with_the_two_commands_and_ci_runs_the_second() -> None:
    first, second = _blocks("bash")[:2]
    assert README.index("```bash") < README.index("## ")
    assert "nas run studies/quickstart.py" in first
    assert "pytest" in second
    assert second.strip() in (ROOT / ".ci" / "run").read_text()


def test_dsl_examples_run() -> None:
    blocks = _blocks("python", "The search-space DSL")
    assert len(blocks) >= 2
    for code in blocks:
        exec(compile(code, "README.md", "exec"), {})
