"""The one training loop, shared by the classifier and causal trainers.

It runs under ``accelerate``: one CPU process, or ``accelerate launch`` with a DDP or FSDP
configuration. Batches come from :func:`~ftevals.training.batching.plan_batches`; process
``rank`` of ``world`` takes batches ``rank, rank + world, ...`` of each epoch's plan.
Checkpoints (:mod:`ftevals.training.checkpoint`) are taken at optimizer-step boundaries, so a
resumed run repeats exactly the steps of an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ftevals.errors import FtevalsError
from ftevals.runtime.loading import accepts_logits_to_keep
from ftevals.training import checkpoint
from ftevals.training.batching import (
    Encoded,
    collate,
    forward_loss,
    plan_batches,
)
from ftevals.training.common import peak_memory_mb
from ftevals.training.config import TrainConfig

logger = logging.getLogger(__name__)


@dataclass
class LoopResult:
    """Figures of a finished (or early-stopped) run, stored in ``ftevals.json``."""

    steps: int = 0
    total_steps: int = 0
    batches: int = 0
    examples: int = 0
    seconds: float = 0.0
    examples_per_s: float = 0.0
    tokens_per_s: float = 0.0
    peak_memory_mb: float = 0.0
    first_loss: float | None = None
    final_loss: float | None = None
    losses: list[float] = field(default_factory=list)
    validation: list[dict[str, float]] = field(default_factory=list)
    best_val_loss: float | None = None
    best_step: int | None = None
    stopped_early: bool = False
    resumed_from: int | None = None
    processes: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _State:
    micro: int = 0
    step: int = 0
    losses: list[float] = field(default_factory=list)
    validation: list[dict[str, float]] = field(default_factory=list)
    best_val_loss: float | None = None
    best_step: int | None = None
    bad_evals: int = 0
    stopped_early: bool = False
    last_epoch_validated: int = 0


def _lr_lambda(total: int, warmup: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total - step) / max(1, total - warmup))

    return factor


def run_loop(
    model: Any,
    train: list[Encoded],
    val: list[Encoded],
    config: TrainConfig,
    *,
    pad_id: int,
    data_sha256: str,
    resume: bool = False,
    progress: bool = True,
    on_step: Callable[[int, float], None] | None = None,
) -> tuple[Any, LoopResult, bool]:
    """Train ``model`` (a peft model) and save the adapter in ``config.out``.

    Returns (unwrapped model, result, is_main_process). ``on_step(step, loss)`` is called on
    the main process after every optimizer step (a KeyboardInterrupt from it, or from the
    user, saves a checkpoint first when one process runs).
    """
    import torch
    from accelerate import Accelerator
    from tqdm.auto import tqdm

    out = Path(config.out)
    accelerator = Accelerator()
    world, rank = accelerator.num_processes, accelerator.process_index
    hooks = checkpoint.install_hooks(accelerator)
    found = checkpoint.checkpoints(out)
    if found and not resume:
        raise FtevalsError(
            f"{out / checkpoint.CHECKPOINTS} holds checkpoints of an earlier run: "
            "pass --resume to continue it, or remove that directory to start over"
        )
    if resume and not found:
        raise FtevalsError(f"nothing to resume: no checkpoint in {out / checkpoint.CHECKPOINTS}")

    per_epoch = math.ceil(len(train) / config.batch_size) // world
    if per_epoch < 1:
        raise FtevalsError(f"{len(train)} training examples are too few for {world} processes")
    total_micro = max(1, round(config.epochs * per_epoch))
    if config.max_steps is not None:
        total_micro = config.max_steps * config.grad_accum
    total_steps = math.ceil(total_micro / config.grad_accum)

    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        trainable, lr=config.learning_rate, weight_decay=config.weight_decay
    )
    model, optimizer = accelerator.prepare(model, optimizer)
    trainable = [p for p in model.parameters() if p.requires_grad]  # FSDP replaces them
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _lr_lambda(total_steps, config.warmup_steps)
    )
    accelerator.register_for_checkpointing(scheduler)

    st = _State()
    best: dict[str, Any] | None = None
    result = LoopResult(total_steps=total_steps, processes=world)
    if resume:
        step_no, path = found[-1]
        saved, best = checkpoint.load(accelerator, path)
        saved_config = TrainConfig.from_dict(saved["config"])
        changed = config.resume_differences(saved_config)
        if changed or saved["data_sha256"] != data_sha256:
            what = changed + (["data (contents)"] if saved["data_sha256"] != data_sha256 else [])
            raise FtevalsError(
                f"cannot resume from {path}: the config or data changed ({', '.join(what)}); "
                "use the same settings, or remove the checkpoints to start over"
            )
        st = _State(**saved["loop"])
        result.resumed_from = step_no
        logger.info("resuming from %s (step %d of %d)", path, st.step, total_steps)

    trim = accepts_logits_to_keep(accelerator.unwrap_model(model))
    plans: dict[int, list[list[int]]] = {}
    lengths = [len(e.input_ids) for e in train]

    def batch_at(micro: int) -> list[Encoded]:
        epoch = micro // per_epoch
        if epoch not in plans:
            plans.clear()
            plans[epoch] = plan_batches(
                lengths, config.batch_size, config.bucket_batches, config.seed, epoch
            )
        return [train[i] for i in plans[epoch][(micro % per_epoch) * world + rank]]

    def device_batch(examples: list[Encoded]) -> dict[str, Any]:
        return {k: v.to(accelerator.device) for k, v in collate(examples, pad_id).items()}

    def validate() -> dict[str, float]:
        model.eval()
        sums = torch.zeros(3, device=accelerator.device)  # loss sum, count, correct
        order = sorted(range(len(val)), key=lambda i: len(val[i].input_ids))
        batches = [
            order[i : i + config.batch_size] for i in range(0, len(order), config.batch_size)
        ]
        with torch.no_grad():
            for idx in batches[rank::world]:
                examples = [val[i] for i in idx]
                batch = device_batch(examples)
                if examples[0].labels is None:
                    output = model(**batch)
                    loss = output.loss
                    n = float(len(examples))
                    correct = (output.logits.argmax(-1) == batch["labels"]).sum().float()
                else:
                    loss = forward_loss(model, batch, trim)
                    n = float(sum(e.loss_tokens for e in examples))
                    correct = torch.zeros((), device=accelerator.device)
                sums += torch.stack([loss.float() * n, sums.new_tensor(n), correct])
        sums = accelerator.reduce(sums, reduction="sum")
        model.train()
        loss = float(sums[0] / sums[1].clamp(min=1))
        record: dict[str, float] = {"step": st.step, "val_loss": round(loss, 5)}
        if val and val[0].labels is None:
            record["val_accuracy"] = round(float(sums[2]) / len(val), 5)
        return record

    def state_dict() -> dict[str, Any]:
        return {"loop": asdict(st), "config": config.to_dict(), "data_sha256": data_sha256}

    def save_checkpoint() -> Path:
        return checkpoint.save(
            accelerator, out, st.step, state_dict(), best, config.keep_checkpoints
        )

    bar = tqdm(
        total=total_steps,
        initial=st.step,
        desc=f"train ({config.kind})",
        unit="step",
        disable=not (progress and accelerator.is_main_process),
    )
    model.train()
    started = time.perf_counter()
    seen_examples = seen_tokens = 0
    last_checkpoint = st.step if resume else -1
    snapshot = checkpoint.rng_snapshot()
    try:
        while st.micro < total_micro and not st.stopped_early:
            step_end = min(total_micro, (st.step + 1) * config.grad_accum)
            n_micro = step_end - st.micro
            step_loss = 0.0
            for micro in range(st.micro, step_end):
                examples = batch_at(micro)
                sync = micro == step_end - 1
                ctx = contextlib.nullcontext() if sync else accelerator.no_sync(model)
                with ctx:
                    loss = forward_loss(model, device_batch(examples), trim) / n_micro
                    accelerator.backward(loss)
                step_loss += float(loss.detach())
                seen_examples += len(examples)
                seen_tokens += sum(len(e.input_ids) for e in examples)
            if config.max_grad_norm is not None:
                accelerator.clip_grad_norm_(trainable, config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            st.micro, st.step = step_end, st.step + 1
            st.losses.append(round(step_loss, 6))
            window = st.losses[-10:]
            bar.set_postfix(loss=f"{sum(window) / len(window):.4f}")
            bar.update(1)

            epoch_done = st.micro // per_epoch
            due = (config.eval_every and st.step % config.eval_every == 0) or (
                not config.eval_every and epoch_done > st.last_epoch_validated
            )
            if val and (due or st.micro >= total_micro):
                st.last_epoch_validated = epoch_done
                record = validate()
                st.validation.append(record)
                line = f"step {st.step}: " + ", ".join(f"{k}={v}" for k, v in record.items())
                logger.info(line)
                if progress and accelerator.is_main_process:
                    bar.write(line)
                if st.best_val_loss is None or (
                    record["val_loss"] < st.best_val_loss - config.early_stopping_min_delta
                ):
                    st.best_val_loss, st.best_step, st.bad_evals = record["val_loss"], st.step, 0
                    best = checkpoint.trainable_state(accelerator.unwrap_model(model))
                else:
                    st.bad_evals += 1
                    patience = config.early_stopping_patience
                    st.stopped_early = bool(patience) and st.bad_evals >= patience
            if config.checkpoint_every and st.step % config.checkpoint_every == 0:
                save_checkpoint()
                last_checkpoint = st.step
            snapshot = checkpoint.rng_snapshot()
            if on_step is not None and accelerator.is_main_process:
                on_step(st.step, step_loss)
    except KeyboardInterrupt:
        bar.close()
        if world == 1 and st.step > last_checkpoint and st.step > 0:
            optimizer.zero_grad()
            checkpoint.restore_rng(snapshot)
            path = save_checkpoint()
            logger.warning("interrupted: checkpoint %s saved; continue with --resume", path)
            print(f"interrupted at step {st.step}: checkpoint {path}; continue with --resume")
        raise
    finally:
        for handle in hooks:
            handle.remove()
    bar.close()

    elapsed = time.perf_counter() - started
    unwrapped = accelerator.unwrap_model(model)
    if best is not None:
        checkpoint.load_trainable(unwrapped, best, "best validation weights")
    state = accelerator.get_state_dict(model) if world > 1 else None
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        unwrapped.save_pretrained(str(out), state_dict=state)
    accelerator.wait_for_everyone()

    result.steps, result.batches = st.step, st.micro
    result.examples, result.seconds = seen_examples, round(elapsed, 3)
    result.examples_per_s = round(seen_examples / elapsed, 2) if elapsed > 0 else 0.0
    result.tokens_per_s = round(seen_tokens / elapsed, 1) if elapsed > 0 else 0.0
    result.peak_memory_mb = peak_memory_mb()
    result.losses = st.losses
    result.first_loss = st.losses[0] if st.losses else None
    tail = st.losses[-10:]
    result.final_loss = round(sum(tail) / len(tail), 6) if tail else None
    result.validation, result.best_val_loss = st.validation, st.best_val_loss
    result.best_step, result.stopped_early = st.best_step, st.stopped_early
    return unwrapped, result, accelerator.is_main_process
