"""The one local-model runtime: everything that loads and runs a model on this machine.

* :mod:`~ftevals.runtime.models`: model and adapter references (aliases, paths, hub ids);
* :mod:`~ftevals.runtime.meta`: :class:`~ftevals.runtime.meta.AdapterMeta`, what training
  writes beside an adapter (``ftevals.json``);
* :mod:`~ftevals.runtime.loading`: tokenizers (with a pad token), causal LMs and sequence
  classifiers with their LoRA adapters, LoRA merge, int8;
* :mod:`~ftevals.runtime.calibration`: temperature and threshold applied to logits;
* :mod:`~ftevals.runtime.fingerprint`: one fingerprint of a loaded model (adapter weights and
  config, calibration, base), for the sample cache and the ONNX cache;
* :mod:`~ftevals.runtime.batching`: concurrent single calls gathered into batches;
* :mod:`~ftevals.runtime.classifier` and :mod:`~ftevals.runtime.causal`: a loaded classifier
  (torch or ONNX, :mod:`~ftevals.runtime.onnx`) and a loaded causal LM (generation,
  first-token choice scoring), used by the completion functions, ``ftevals serve`` and the
  benchmarks;
* :mod:`~ftevals.runtime.text`: the text a classifier judges in a chat prompt.
* :mod:`~ftevals.runtime.answers`: what a classifier answers for each label (a checked
  label -> answer mapping, e.g. policy categories to moderation codes).

The runtime imports only the ground (errors, paths, jsonl) and never evals, training, the
harness or the completion functions. Heavy libraries (torch, transformers, peft, onnxruntime)
are imported inside the functions that need them.
"""
