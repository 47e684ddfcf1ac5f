"""Every spec in studies/ loads, has a smaller quick variant, and is reported in its README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import nas
from nas._cli._run import load_spec

STUDIES = Path(__file__).resolve().parents[1] / "studies"
SPECS = sorted(p for p in STUDIES.glob("*.py") if "\nstudy = " in p.read_text())
README = (STUDIES / "README.md").read_text()


def test_the_five_published_searches_are_there() -> None:
    assert {p.stem for p in SPECS} == {"quickstart", "flexibert", "mpcvit", "mcuformer",
                                       "efficient_attention"}


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_spec_defines_a_study_and_a_smaller_quick_variant(path: Path) -> None:
    module = load_spec(str(path))
    study, quick = module.study, module.quick_study
    assert isinstance(study, nas.Study) and isinstance(quick, nas.Study)
    assert quick.name != study.name
    assert quick.trials <= study.trials
    assert quick.space.hash == study.space.hash


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_readme_links_the_spec_and_its_plot(path: Path) -> None:
    assert f"]({path.name})" in README
    assert f"({path.stem}.png)" in README


def test_every_plot_the_readme_shows_exists() -> None:
    plots = re.findall(r"!\[[^]]*\]\(([^)]+)\)", README)
    assert plots and all((STUDIES / plot).is_file() for plot in plots)
