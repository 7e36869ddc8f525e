"""Experiments that span training and evaluation (``ftevals sweep``).

They stand above both: an experiment may import :mod:`ftevals.training` and
:mod:`ftevals.harness`; neither of those imports an experiment.
"""
