"""Tokenised examples, length-bucketed batch plans, padding and the batch loss (both trainers).

A batch plan depends only on (seed, epoch, lengths): a resumed run recomputes the plan of its
epoch and skips the batches it already did, so it sees exactly the batches of an uninterrupted
run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

IGNORE_INDEX = -100


@dataclass
class Encoded:
    """One tokenised example: ids, and either token labels (causal) or a class id."""

    input_ids: list[int]
    labels: list[int] | None = None
    target: int | None = None
    line: int = 0

    @property
    def loss_tokens(self) -> int:
        """Tokens that carry loss after the causal shift (0 for a classifier example)."""
        if self.labels is None:
            return 0
        return sum(1 for label in self.labels[1:] if label != IGNORE_INDEX)


def plan_batches(
    lengths: list[int], batch_size: int, bucket_batches: int, seed: int, epoch: int
) -> list[list[int]]:
    """Batches of example indices for one epoch.

    The indices are shuffled (seeded by seed and epoch), cut into buckets of
    ``batch_size * bucket_batches``, each bucket is sorted by length (less padding) and cut
    into batches, and the batch order is shuffled again so lengths do not trend over the epoch.
    """
    rng = random.Random(f"ftevals-batches:{seed}:{epoch}")
    order = list(range(len(lengths)))
    rng.shuffle(order)
    bucket = batch_size * max(1, bucket_batches)
    batches: list[list[int]] = []
    for start in range(0, len(order), bucket):
        chunk = order[start : start + bucket]
        if bucket_batches > 1:
            chunk.sort(key=lambda i: (lengths[i], i))
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    if bucket_batches > 1:
        rng.shuffle(batches)
    return batches


def collate(examples: list[Encoded], pad_id: int) -> dict[str, Any]:
    """Right-padded tensors: ``input_ids``, ``attention_mask`` and ``labels`` (token labels
    with -100 on prompt and padding for causal examples, class ids for classifier examples)."""
    import torch

    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, example in enumerate(examples):
        n = len(example.input_ids)
        ids[row, :n] = torch.tensor(example.input_ids, dtype=torch.long)
        mask[row, :n] = 1
    batch: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
    if examples[0].labels is not None:
        labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
        for row, example in enumerate(examples):
            assert example.labels is not None
            labels[row, : len(example.labels)] = torch.tensor(example.labels, dtype=torch.long)
        batch["labels"] = labels
    else:
        batch["labels"] = torch.tensor([e.target for e in examples], dtype=torch.long)
    return batch


def forward_loss(model: Any, batch: dict[str, Any], trim: bool) -> Any:
    """Mean loss of a batch. Causal batches with ``trim`` compute logits only at the positions
    that predict a loss token: the vocabulary projection dominates the cost of a small LM,
    and a label answer is a few tokens of a long prompt."""
    import torch

    labels = batch["labels"]
    if not trim or labels.ndim != 2:
        return model(**batch).loss
    targets = labels[:, 1:]
    positions = (targets != IGNORE_INDEX).any(dim=0).nonzero().squeeze(-1)
    output = model(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        logits_to_keep=positions,
    )
    logits = output.logits.float()
    return torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]),
        targets[:, positions].reshape(-1),
        ignore_index=IGNORE_INDEX,
    )
