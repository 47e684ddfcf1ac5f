"""The README tour and a spec's own mixer, task and evaluator run on two local workers and on a
two-node cluster.

The custom spec is the README's ("Your own mixers, tasks and evaluators"): a mixer registered
in a module beside the spec, a ``BaseTask`` and a ``BaseEvaluator`` defined in it. Each run goes
through ``nas run`` with ``--workers 2``; the test adds an evaluator that notes which Ray node
ran each trial. The two-node tests share one cluster.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import ray

import storage
from nas._cli import main
from space import MIXERS

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Your own mixers, tasks and evaluators"

MARKER = """

import ray as _ray
from pathlib import Path as _Path


class NodeMarker(BaseEvaluator):
    def __init__(self, folder):
        self.folder = folder

    def __call__(self, arch, report=None):
        _Path(self.folder, _ray.get_runtime_context().get_node_id()).touch()
        return {{}}


study = study.replace(evaluate=Compose(study.evaluate, NodeMarker({folder!r})))
"""


def _readme_spec(folder: Path) -> Path:
    """Write the README section's files (each block starts with ``# name.py``) into folder."""
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION)
    section = text[start:text.index("\n## ", start + 1)]
    for block in re.findall(r"```python\n(.*?)```", section, flags=re.S):
        name = block.splitlines()[0].removeprefix("# ").strip()
        (folder / name).write_text(block)
    (folder / "nodes").mkdir()
    spec = folder / "spec.py"
    spec.write_text(spec.read_text() + MARKER.format(folder=str(folder / "nodes")))
    return spec


def _run_and_check(tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]) -> set[str]:
    """Run the README spec for 6 trials on 2 workers; returns the nodes that ran trials."""
    spec = _readme_spec(tmp_path)
    try:
        code = main(["run", str(spec), "--workers", "2", "--trials", "6", "--storage", url,
                     "--quiet", "--json"])
    finally:
        # The spec registered its mixer in this process too; the registry tests expect none,
        # and the next run imports (and registers) its own copy.
        MIXERS.pop("shift", None)
        sys.modules.pop("shiftmix", None)
    assert code == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["complete"] == 6
    with storage.connect(url) as db:
        trials = db.trials("majority")
    assert [t.state for t in trials] == ["COMPLETE"] * 6, [t.error for t in trials]
    # The custom mixer was built and trained on a worker, and the custom metric came back.
    mixers = {layer["mixer"]["type"] for t in trials for layer in t.arch["layers"]}
    assert "shift" in mixers
    assert all(t.metrics["kparams"] > 0 and "accuracy" in t.metrics for t in trials)
    return {p.name for p in (tmp_path / "nodes").iterdir()}


def _tour(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The tour's spec, its quick study picked by name, for two trials."""
    code = main(["run", str(ROOT / "studies" / "quickstart.py"), "--study", "quickstart-quick",
                 "--trials", "2", "--workers", "2", "--storage", url, "--quiet", "--json"])
    assert code == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["complete"] == 2


class TestLocal:
    @pytest.fixture(scope="class")
    def local_ray(self):
        ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
        yield
        ray.shutdown()

    @pytest.mark.usefixtures("local_ray")
    def test_the_readme_spec_runs_on_two_local_workers(self, tmp_path, capsys) -> None:
        nodes = _run_and_check(tmp_path, f"sqlite:///{tmp_path / 'studies.db'}", capsys)
        assert len(nodes) == 1

    @pytest.mark.usefixtures("local_ray")
    def test_the_tour_runs_on_two_local_workers(self, tmp_path, capsys) -> None:
        _tour(f"sqlite:///{tmp_path / 'studies.db'}", capsys)


@pytest.mark.slow
@pytest.mark.postgres
class TestCluster:
    @pytest.fixture(scope="class")
    def cluster(self):
        from ray.cluster_utils import Cluster

        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
        try:
            cluster.add_node(num_cpus=1)
            cluster.wait_for_nodes()
            ray.init(address=cluster.address, logging_level="ERROR")
            yield cluster
        finally:
            ray.shutdown()
            cluster.shutdown()

    @pytest.mark.usefixtures("cluster")
    def test_the_readme_spec_runs_on_a_two_node_cluster(self, tmp_path, postgres_url,
                                                        capsys) -> None:
        assert len(_run_and_check(tmp_path, postgres_url, capsys)) == 2

    @pytest.mark.usefixtures("cluster")
    def test_the_tour_runs_on_a_two_node_cluster(self, postgres_url, capsys) -> None:
        _tour(postgres_url, capsys)


def test_only_the_users_own_modules_beside_the_spec_go_by_value(tmp_path, monkeypatch) -> None:
    import ray.cloudpickle

    from nas._ship import ship_folder

    site = tmp_path / ".venv" / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (tmp_path / "helpers_beside.py").write_text("X = 1\n")
    (site / "installed_inside.py").write_text("Y = 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(site))
    import helpers_beside  # noqa: F401
    import installed_inside  # noqa: F401

    before = set(ray.cloudpickle.list_registry_pickle_by_value())
    try:
        ship_folder(tmp_path)
        # A spec inside a checkout of hetnas must not ship hetnas itself either.
        ship_folder(ROOT)
        shipped = ray.cloudpickle.list_registry_pickle_by_value()
        assert "helpers_beside" in shipped and "installed_inside" not in shipped
        assert not {name for name in shipped if name.split(".")[0] in ("nas", "space", "storage")}
    finally:
        # Leave the rest of the suite the registry it had.
        for name in set(ray.cloudpickle.list_registry_pickle_by_value()) - before:
            ray.cloudpickle.unregister_pickle_by_value(sys.modules[name])
        for name in ("helpers_beside", "installed_inside"):
            sys.modules.pop(name, None)
