"""ftevals.runtime.fingerprint: one hash of what a local model's answers depend on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ftevals.runtime.fingerprint import fingerprint, of_completion_fn


def make_adapter(root: Path, calibration: float | None = 1.5) -> Path:
    root.mkdir(parents=True)
    (root / "adapter_model.safetensors").write_bytes(b"weights-v1")
    (root / "adapter_config.json").write_text('{"r": 8, "lora_alpha": 16}', encoding="utf-8")
    meta: dict[str, object] = {"kind": "classifier", "base": "minilm", "labels": ["a", "b"]}
    meta["config"] = {"base_layers": None, "epochs": 1}
    if calibration is not None:
        meta["calibration"] = {"temperature": calibration}
    (root / "ftevals.json").write_text(json.dumps(meta), encoding="utf-8")
    return root


def test_each_part_changes_the_fingerprint(tmp_path: Path) -> None:
    adapter = make_adapter(tmp_path / "a")
    key = fingerprint([adapter], "base")
    assert fingerprint([adapter], "base") == key
    assert fingerprint([adapter], "other-base") != key

    copies = iter(range(100))

    def changed(edit: str, text: str | bytes) -> str:
        copy = tmp_path / f"copy-{next(copies)}"
        shutil.copytree(adapter, copy)
        target = copy / edit
        if isinstance(text, bytes):
            target.write_bytes(text)
        else:
            target.write_text(text, encoding="utf-8")
        return fingerprint([copy], "base")

    assert changed("adapter_model.safetensors", b"weights-v2") != key
    assert changed("adapter_config.json", '{"r": 16, "lora_alpha": 16}') != key
    meta = json.loads((adapter / "ftevals.json").read_text(encoding="utf-8"))
    recalibrated = changed("ftevals.json", json.dumps(meta | {"calibration": {"temperature": 2}}))
    assert recalibrated != key
    relabelled = changed("ftevals.json", json.dumps(meta | {"labels": ["a", "c"]}))
    assert relabelled != key
    # training figures and the directory's name and place are not part of the model
    assert changed("ftevals.json", json.dumps(meta | {"train": {"loss": 0.1}})) == key


def test_without_calibration_a_recalibrated_adapter_keeps_its_fingerprint(tmp_path: Path) -> None:
    one = make_adapter(tmp_path / "one", calibration=1.5)
    two = make_adapter(tmp_path / "two", calibration=3.0)
    assert fingerprint([one], "b", calibration=False) == fingerprint([two], "b", calibration=False)
    assert fingerprint([one], "b") != fingerprint([two], "b")


def test_a_missing_weights_file_is_named_not_hashed(tmp_path: Path) -> None:
    adapter = make_adapter(tmp_path / "a")
    (adapter / "adapter_model.safetensors").unlink()
    assert fingerprint([adapter]) != fingerprint([make_adapter(tmp_path / "b")])


def test_of_completion_fn_prefers_the_models_own_fingerprint(tmp_path: Path) -> None:
    adapter = make_adapter(tmp_path / "a")

    class Loaded:
        fingerprint = "abc"
        adapter_dir = adapter

    class Plain:
        adapter_dirs = (adapter,)

    assert of_completion_fn(Loaded()) == ["abc"]
    assert of_completion_fn(Plain()) == [fingerprint([adapter])]
    assert of_completion_fn(object()) == []
