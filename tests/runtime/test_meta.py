"""ftevals.runtime.meta: ftevals.json as AdapterMeta, read and written with one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftevals.errors import FtevalsError
from ftevals.runtime.calibration import Calibration
from ftevals.runtime.meta import META_FILE, AdapterMeta, classifier_meta, read_meta, write_meta

CALIBRATION = Calibration(
    temperature=1.3,
    positive_label="unsafe",
    threshold=0.4,
    examples=20,
    nll_before=0.6,
    nll_after=0.5,
    ece_before=0.1,
    ece_after=0.05,
    f1_at_threshold=0.9,
)


def test_written_meta_reads_back_with_every_key(tmp_path: Path) -> None:
    meta = AdapterMeta(
        kind="classifier",
        base="minilm",
        labels=["safe", "unsafe"],
        config={"max_length": 32, "base_layers": 3},
        data_sha256="ab" * 32,
        training_data=[
            {"path": "d.jsonl", "absolute_path": "/x/d.jsonl", "sha256": "cd" * 32, "format": None}
        ],
        train={"examples": 40},
        calibration=CALIBRATION,
        future_key={"kept": True},
    )
    write_meta(tmp_path, meta)
    raw = json.loads((tmp_path / META_FILE).read_text(encoding="utf-8"))
    assert raw["calibration"] == CALIBRATION.model_dump()
    assert raw["future_key"] == {"kept": True}
    assert "fused" not in raw  # keys never given are not written
    again = read_meta(tmp_path)
    assert again.to_json() == raw
    assert again.max_length == 32 and again.base_layers == 3
    assert again.calibration == CALIBRATION
    assert [p.name for p in tmp_path.iterdir()] == [META_FILE]


def test_defaults_for_loading(tmp_path: Path) -> None:
    meta = AdapterMeta(kind="causal", base="smollm2-135m")
    assert meta.max_length == 128 and meta.base_layers is None and meta.labels is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "invalid JSON"),
        ('{"kind": "regressor", "base": "m"}', "kind: Input should be"),
        ('{"kind": "classifier"}', "base: Field required"),
        ('{"kind": "causal", "base": "m", "calibration": {"temperature": -1}}', "calibration"),
    ],
)
def test_bad_meta_is_one_line_naming_the_file_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / META_FILE).write_text(text, encoding="utf-8")
    with pytest.raises(FtevalsError, match=message) as info:
        read_meta(tmp_path)
    assert str(info.value).startswith(str(tmp_path / META_FILE))
    assert "\n" not in str(info.value)


def test_missing_meta_and_wrong_kind(tmp_path: Path) -> None:
    with pytest.raises(FtevalsError, match="not an ftevals adapter"):
        read_meta(tmp_path)
    write_meta(tmp_path, AdapterMeta(kind="causal", base="m", labels=["a", "b"]))
    with pytest.raises(FtevalsError, match="not classifier"):
        classifier_meta(tmp_path)
