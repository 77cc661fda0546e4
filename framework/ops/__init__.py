"""Ops, graphs and jobs: task-style Python whose steps pass typed values to each other.

An **op** (:func:`op`) is a function with named, typed inputs and one or more named outputs; a
**graph** (:func:`graph`) composes ops by calling them, and its structure is traced when it is
decorated (calling an op inside ``@graph`` records a node and returns a handle to its outputs;
nothing runs); a **job** (:func:`job`, :meth:`GraphDefinition.to_job`) is a graph with default
config, resources and tags, run by ``orch job run NAME`` or
:meth:`JobDefinition.execute_in_process`.

::

    @op(retry_policy=RetryPolicy(max_retries=2, delay=0.5))
    def fetch(context: OpContext, config: FetchConfig) -> list[dict]: ...

    @op
    def clean(rows: list[dict]) -> list[dict]: ...

    @job
    def nightly():
        clean(fetch())

Op parameters are classified once, by annotation or name: ``context`` / :class:`OpContext`; a
subclass of :class:`orch.Config` (the op's config, from ``run_config["ops"][node]["config"]``); a
subclass of :class:`orch.Resource` (injected by parameter name); anything else is an input, type
checked against its annotation (or ``ins={"x": In(Type)}``). The return annotation (or
``out=Out(...)`` / ``out={"a": Out(...), "b": Out(...)}`` / ``out=DynamicOut(...)``) describes
the outputs. Calling an op outside a graph calls the function (a context is made when the op takes
one and none is given), so ops are unit-tested with plain values.

This module defines; the run layer (:mod:`orch.run.ops`) executes.
"""

from __future__ import annotations

from orch.ops.definition import (
    RESULT,
    Backoff,
    DynamicOut,
    DynamicOutput,
    In,
    InputDef,
    OpContext,
    OpDefinition,
    Out,
    Output,
    OutputDef,
    RetryPolicy,
    op,
)
from orch.ops.graph import (
    GraphDefinition,
    JobDefinition,
    Node,
    Source,
    check_unique,
    definitions_in,
    graph,
    graph_asset,
    job,
)

__all__ = [
    "RESULT", "Backoff", "DynamicOut", "DynamicOutput", "GraphDefinition", "In", "InputDef",
    "JobDefinition", "Node", "OpContext", "OpDefinition", "Out", "Output", "OutputDef",
    "RetryPolicy", "Source", "check_unique", "definitions_in", "graph", "graph_asset", "job", "op",
]  # fmt: skip
