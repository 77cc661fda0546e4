"""The memory and objects IO managers and the registry that resolves IO managers by name."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
from orch.errors import ConfigError, StorageError
from orch.run.io import IOManagers, MemoryIOManager, ObjectsIOManager, io_manager_class
from orch.storage import InputContext, IOManager, OutputContext


class Fitted:
    """A stand-in for a trained model: a plain picklable object."""

    def __init__(self, weights: list[float]) -> None:
        self.weights = weights


def test_memory_keeps_outputs_by_key_and_loads_them_back() -> None:
    io = MemoryIOManager()
    out = OutputContext(key=("run1", "train", "result"), op="train")
    model = Fitted([1.0, 2.0])
    assert not io.has_output(out)
    io.handle_output(out, model)
    assert io.has_output(out)
    assert out.metadata["uri"] == "memory://run1/train/result"
    assert out.metadata["type"].endswith("Fitted")
    loaded = io.load_input(InputContext(name="model", upstream_output=out, op="score"))
    assert loaded is model
    other = OutputContext(key=("run1", "train", "other"), op="train")
    with pytest.raises(StorageError, match="op 'score': input 'model' has no stored output"):
        io.load_input(InputContext(name="model", upstream_output=other, op="score"))


def test_memory_partitions_one_object_or_a_dict_of_them() -> None:
    io = MemoryIOManager()
    for day in ("2024-01-01", "2024-01-02"):
        io.handle_output(OutputContext(key=("daily", day), asset="daily"), {"day": day})
    base = OutputContext(key=("daily",), asset="daily")
    one = InputContext(name="daily", upstream_output=base, partition_keys=["2024-01-02"])
    assert io.load_input(one) == {"day": "2024-01-02"}
    both = InputContext(
        name="daily", upstream_output=base, partition_keys=["2024-01-01", "2024-01-02"]
    )
    assert io.load_input(both) == {
        "2024-01-01": {"day": "2024-01-01"},
        "2024-01-02": {"day": "2024-01-02"},
    }


def test_objects_pickles_to_key_path_and_records_type_and_size(tmp_path: Path) -> None:
    io = ObjectsIOManager(base_dir=str(tmp_path / "store"))
    out = OutputContext(key=("run-7", "train[fold_1]", "result"), op="train[fold_1]")
    io.handle_output(out, Fitted([0.5]))
    path = tmp_path / "store" / "run-7" / "train[fold_1]" / "result"
    assert path.is_file()
    assert pickle.loads(path.read_bytes()).weights == [0.5]
    assert out.metadata == {
        "uri": path.resolve().as_uri(),
        "format": "pickle",
        "type": f"{__name__}.Fitted",
        "bytes": path.stat().st_size,
    }
    assert io.has_output(out)
    loaded = io.load_input(InputContext(name="model", upstream_output=out, asset="score"))
    assert isinstance(loaded, Fitted) and loaded.weights == [0.5]
    # no temporary files left next to it
    assert sorted(p.name for p in path.parent.iterdir()) == ["result"]


def test_objects_key_parts_cannot_escape_the_base_dir(tmp_path: Path) -> None:
    io = ObjectsIOManager(base_dir=str(tmp_path / "store"))
    out = OutputContext(key=("stats", "../../x", ".."), asset="stats")
    io.handle_output(out, 1)
    written = [p for p in (tmp_path).rglob("*") if p.is_file()]
    assert len(written) == 1 and written[0].is_relative_to(tmp_path / "store")


def test_objects_replaces_atomically_and_keeps_old_file_when_pickling_fails(
    tmp_path: Path,
) -> None:
    io = ObjectsIOManager(base_dir=str(tmp_path))
    out = OutputContext(key=("stats",), asset="stats")
    io.handle_output(out, {"rows": 1})
    with pytest.raises(StorageError, match=r"asset 'stats': the output \(builtins.function\)"):
        io.handle_output(OutputContext(key=("stats",), asset="stats"), lambda: 1)
    assert pickle.loads((tmp_path / "stats").read_bytes()) == {"rows": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["stats"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_objects_unwritable_location_names_step_and_path(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        io = ObjectsIOManager(base_dir=str(locked / "store"))
        out = OutputContext(key=("run1", "train", "result"), op="train")
        with pytest.raises(StorageError) as info:
            io.handle_output(out, [1, 2])
        message = info.value.format_message()
        assert f"op 'train' output 'result': cannot write {locked}/store/run1/train/result" in (
            message
        )
        assert "Permission denied" in message and "base_dir" in message
        assert info.value.exit_code == 1 and not out.metadata
    finally:
        locked.chmod(0o700)


def test_objects_location_blocked_by_a_file_names_step_and_path(tmp_path: Path) -> None:
    (tmp_path / "store").write_text("not a folder")
    io = ObjectsIOManager(base_dir=str(tmp_path / "store"))
    out = OutputContext(key=("stats",), asset="stats")
    with pytest.raises(StorageError) as info:
        io.handle_output(out, {"rows": 1})
    assert info.value.format_message().startswith(
        f"asset 'stats': cannot write {tmp_path / 'store' / 'stats'}: "
    )
    assert not out.metadata and (tmp_path / "store").read_text() == "not a folder"


def test_objects_missing_input_names_the_input_and_path(tmp_path: Path) -> None:
    io = ObjectsIOManager(base_dir=str(tmp_path))
    up = OutputContext(key=("stats",), asset="stats")
    with pytest.raises(StorageError) as info:
        io.load_input(InputContext(name="stats", upstream_output=up, asset="report"))
    assert info.value.format_message().startswith(
        f"asset 'report': input 'stats' has no stored output at {tmp_path / 'stats'}"
    )


def test_objects_partitions_are_files_under_the_asset(tmp_path: Path) -> None:
    io = ObjectsIOManager(base_dir=str(tmp_path))
    for day in ("2024-01-01", "2024-01-02"):
        io.handle_output(OutputContext(key=("daily", day), asset="daily"), day)
    assert sorted(p.name for p in (tmp_path / "daily").iterdir()) == ["2024-01-01", "2024-01-02"]
    base = OutputContext(key=("daily",), asset="daily")
    ctx = InputContext(name="d", upstream_output=base, partition_keys=["2024-01-01"])
    assert io.load_input(ctx) == "2024-01-01"


class JsonLines(IOManager):
    """A project's own IO manager (only the registry is exercised here)."""

    base_dir: str = "jl"

    def handle_output(self, context: OutputContext, obj: object) -> None:
        raise NotImplementedError

    def load_input(self, context: InputContext) -> object:
        raise NotImplementedError


def test_registry_resolves_builtins_declared_and_custom_per_target(tmp_path: Path) -> None:
    declarations = {
        "lake": {"type": "objects", "base_dir": "lake", "targets": {"prod": {"base_dir": "/p"}}},
        "objects": {"format": "pickle"},
        "events": {"type": "JsonLines", "base_dir": "ev"},
        "api": {"type": "WeatherApi", "url": "x"},
    }
    ios = IOManagers.for_project(tmp_path, "dev", declarations)
    memory = ios.get("memory")
    assert isinstance(memory, MemoryIOManager) and ios.get("memory") is memory
    lake = ios.get("lake")
    assert isinstance(lake, ObjectsIOManager) and lake.base_dir == str(tmp_path / "lake")
    objects = ios.get("objects")
    assert isinstance(objects, ObjectsIOManager)
    assert objects.base_dir == str(tmp_path / ".orch" / "storage" / "dev" / "objects")
    events = ios.get("events")
    assert isinstance(events, JsonLines) and events.base_dir == "ev"
    assert "lake" in ios.names() and "events" in ios.names() and "api" not in ios.names()
    prod = IOManagers.for_project(tmp_path, "prod", declarations).get("lake")
    assert isinstance(prod, ObjectsIOManager) and prod.base_dir == "/p"
    default = IOManagers.for_project(tmp_path, "dev").get("objects")
    assert isinstance(default, ObjectsIOManager)
    assert default.base_dir == str(tmp_path / ".orch" / "storage" / "dev" / "objects")
    assert io_manager_class("JsonLines") is JsonLines
    assert io_manager_class(f"{__name__}.JsonLines") is JsonLines


def test_registry_errors_name_the_resource_and_suggest(tmp_path: Path) -> None:
    ios = IOManagers.for_project(
        tmp_path,
        "dev",
        {"api": {"type": "WeatherApi"}, "lake": {"type": "objects", "formt": "x"}},
    )
    with pytest.raises(ConfigError, match="unknown IO manager 'objets'. Did you mean 'objects'"):
        ios.get("objets")
    with pytest.raises(ConfigError, match=r"resource 'api' is not an IO manager \(type: Weather"):
        ios.get("api")
    with pytest.raises(ConfigError, match="resource 'lake' field 'formt' is invalid"):
        ios.get("lake")


def test_objects_and_parquet_at_an_fsspec_url() -> None:
    pytest.importorskip("fsspec")
    import polars as pl
    from orch.assets import PartitionWindow
    from orch.run.io import ParquetIOManager

    objects = ObjectsIOManager(base_dir="memory://orch-test/objects")
    out = OutputContext(key=("stats",), asset="stats")
    objects.handle_output(out, {"rows": 3})
    assert out.metadata["uri"] == "memory://orch-test/objects/stats"
    assert objects.has_output(out)
    assert objects.load_input(InputContext(name="stats", upstream_output=out)) == {"rows": 3}
    lake = ParquetIOManager(base_dir="memory://orch-test/lake")
    for day in ("d1", "d2"):
        part = OutputContext(key=("ev", day), asset="ev", partition=PartitionWindow(day))
        lake.handle_output(part, pl.DataFrame({"day": [day]}))
    assert lake.stored_partitions(("ev",)) == ["d1", "d2"]
    base = OutputContext(key=("ev",), asset="ev")
    one = InputContext(name="ev", upstream_output=base, partition_keys=["d2"])
    assert lake.load_input(one)["day"].to_list() == ["d2"]
    every = InputContext(name="ev", upstream_output=base, all_partitions=True)
    assert sorted(lake.load_input(every)["day"].to_list()) == ["d1", "d2"]
