"""TrainConfig / LoraSettings: invariants checked on construction, YAML loading, overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ftevals.errors import FtevalsError
from ftevals.training.config import LoraSettings, TrainConfig


def config(**kwargs: Any) -> TrainConfig:
    return TrainConfig(**{"data": "d.jsonl", "out": "out", **kwargs})


def write(tmp_path: Path, text: str, name: str = "train.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_valid() -> None:
    cfg = config()
    assert cfg.kind == "classifier"
    assert cfg.base == "minilm"
    assert isinstance(cfg.lora, LoraSettings)
    assert cfg.lora.r == 8


def test_every_field_has_help() -> None:
    for cls in (TrainConfig, LoraSettings):
        for name, info in cls.model_fields.items():
            assert info.description, f"{cls.__name__}.{name} has no help text"


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"r": 0}, "lora.r"),
        ({"r": -1}, "lora.r"),
        ({"lora_alpha": 0}, "lora.lora_alpha"),
        ({"lora_dropout": 1.0}, "lora.lora_dropout"),
        ({"lora_dropout": -0.1}, "lora.lora_dropout"),
        ({"bias": "some"}, "lora.bias"),
    ],
)
def test_bad_lora_values_name_the_field(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(FtevalsError, match=f"^{name} "):
        LoraSettings(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"kind": "regression"}, "kind"),
        ({"epochs": 0}, "epochs"),
        ({"epochs": -1.5}, "epochs"),
        ({"learning_rate": 0}, "learning_rate"),
        ({"batch_size": 0}, "batch_size"),
        ({"grad_accum": 0}, "grad_accum"),
        ({"max_length": 0}, "max_length"),
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"val_fraction": -0.01}, "val_fraction"),
        ({"lora": {"r": 0}}, "lora.r"),
        ({"lora": {"bias": "every"}}, "lora.bias"),
    ],
)
def test_bad_values_name_the_field(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(FtevalsError, match=f"^{name} "):
        config(**kwargs)


def test_edge_values_are_accepted() -> None:
    cfg = config(epochs=0.5, val_fraction=0.0, batch_size=1, lora={"lora_dropout": 0.0})
    assert cfg.lora.lora_dropout == 0.0
    assert config(val_fraction=0.99).val_fraction == 0.99


def test_lora_mapping_becomes_settings_and_round_trips() -> None:
    cfg = config(lora={"r": 4, "target_modules": ["q_proj"], "bias": "lora_only"})
    assert cfg.lora == LoraSettings(r=4, target_modules=["q_proj"], bias="lora_only")
    as_dict = cfg.to_dict()
    assert as_dict["lora"]["r"] == 4
    assert TrainConfig(**as_dict) == cfg


def test_from_yaml(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "data: data/prompts.jsonl\nout: adapters/x\nkind: classifier\nepochs: 2\n"
        "batch_size: 4\nlora:\n  r: 16\n  lora_alpha: 32\n  target_modules: [query, value]\n",
    )
    cfg = TrainConfig.from_yaml(path)
    assert (cfg.data, cfg.out, cfg.epochs, cfg.batch_size) == (
        "data/prompts.jsonl",
        "adapters/x",
        2,
        4,
    )
    assert cfg.lora == LoraSettings(r=16, lora_alpha=32, target_modules=["query", "value"])


def test_overrides_win_and_none_overrides_are_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "data: a.jsonl\nout: o\nepochs: 2\nbatch_size: 4\n")
    cfg = TrainConfig.from_yaml(path, epochs=7.0, batch_size=None, out="elsewhere", seed=3)
    assert cfg.epochs == 7.0
    assert cfg.batch_size == 4
    assert cfg.out == "elsewhere"
    assert cfg.seed == 3
    assert cfg.data == "a.jsonl"


def test_overrides_can_supply_required_fields(tmp_path: Path) -> None:
    cfg = TrainConfig.from_yaml(write(tmp_path, "epochs: 1\n"), data="x.csv", out="y")
    assert (cfg.data, cfg.out, cfg.epochs) == ("x.csv", "y", 1)


def test_overrides_are_checked(tmp_path: Path) -> None:
    path = write(tmp_path, "data: a.jsonl\nout: o\n")
    with pytest.raises(FtevalsError, match=r"^epochs "):
        TrainConfig.from_yaml(path, epochs=0)


def test_unknown_keys_fail_naming_them(tmp_path: Path) -> None:
    path = write(tmp_path, "data: a\nout: o\nepoch: 3\nlr: 0.1\n")
    with pytest.raises(FtevalsError) as info:
        TrainConfig.from_yaml(path)
    message = str(info.value)
    assert str(path) in message
    assert "unknown keys ['epoch', 'lr']" in message
    assert "epochs" in message  # the known keys are listed


def test_unknown_lora_key_fails_naming_it(tmp_path: Path) -> None:
    path = write(tmp_path, "data: a\nout: o\nlora:\n  rank: 4\n")
    with pytest.raises(FtevalsError, match="rank"):
        TrainConfig.from_yaml(path)


def test_missing_required_keys_fail(tmp_path: Path) -> None:
    with pytest.raises(FtevalsError, match="out"):
        TrainConfig.from_yaml(write(tmp_path, "data: a\n"))
    with pytest.raises(FtevalsError, match="data"):
        TrainConfig.from_yaml(write(tmp_path, "", name="empty.yaml"))


@pytest.mark.parametrize("text", ["- data: a\n- out: o\n", "just a string\n", "42\n"])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str) -> None:
    with pytest.raises(FtevalsError, match="expected a mapping"):
        TrainConfig.from_yaml(write(tmp_path, text))


def test_invalid_yaml_is_reported(tmp_path: Path) -> None:
    with pytest.raises(FtevalsError, match="invalid YAML"):
        TrainConfig.from_yaml(write(tmp_path, "data: [a\nout: o\n"))


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:builtins.open",
        "!!python/object/new:builtins.open",
        "!!python/object:builtins.object",
        "!!python/name:os.system",
    ],
)
def test_python_tags_are_refused(tmp_path: Path, tag: str) -> None:
    marker = tmp_path / "created-by-yaml"
    path = write(tmp_path, f"data: {tag} [{str(marker)!r}, 'w']\nout: o\n")
    with pytest.raises(FtevalsError, match="invalid YAML"):
        TrainConfig.from_yaml(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("text", "name"), [("epochs: two", "epochs"), ("batch_size: 2.5", "batch_size")]
)
def test_wrong_types_name_the_field(tmp_path: Path, text: str, name: str) -> None:
    path = write(tmp_path, f"data: a\nout: o\n{text}\n")
    with pytest.raises(FtevalsError, match=name):
        TrainConfig.from_yaml(path)
