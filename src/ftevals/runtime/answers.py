"""What a classifier answers for each of its labels: the label itself, or a mapped text.

A multi-class adapter can answer in another eval's vocabulary without retraining: the hazard
classifier (labels = policy categories) answers the ``moderation`` eval's codes through a
mapping ``{"hate": "H", "child_exploitation": "S, S3", "privacy": "none", ...}`` given in the
registry YAML. The mapping is checked against the adapter's labels when the model is loaded;
a label it does not name answers with itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ftevals.errors import FtevalsError


@dataclass(frozen=True)
class Answers:
    """label -> answer text (labels not in ``mapping`` answer with themselves)."""

    mapping: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def checked(
        cls, mapping: Mapping[object, object] | None, labels: Sequence[str], model: str
    ) -> Answers:
        """The mapping of ``model`` (for errors), every key one of ``labels``, every value a
        non-empty text; one :class:`FtevalsError` naming what is wrong otherwise."""
        if mapping is None:
            return cls()
        if not isinstance(mapping, Mapping):
            raise FtevalsError(
                f"answers of {model}: expected a mapping label -> answer text, "
                f"got {type(mapping).__name__}"
            )
        unknown = [str(key) for key in mapping if key not in labels]
        if unknown:
            raise FtevalsError(
                f"answers of {model}: {', '.join(map(repr, unknown))} "
                f"{'is not a label' if len(unknown) == 1 else 'are not labels'} of the model "
                f"(labels: {', '.join(labels)})"
            )
        bad = [str(key) for key, value in mapping.items() if not (isinstance(value, str) and value)]
        if bad:
            raise FtevalsError(
                f"answers of {model}: the answer of {', '.join(map(repr, bad))} must be a "
                "non-empty text (quote it in YAML)"
            )
        return cls({str(key): str(value) for key, value in mapping.items()})

    def of(self, label: str) -> str:
        """The answer for a predicted ``label``."""
        return self.mapping.get(label, label)
