"""Run: Manifest + state -> a run (plan, freshness, executor, materializations, checks, reporting).

:mod:`orch.run.workflow` is the entry point shared by the CLI, the daemon and the test helpers;
:mod:`orch.run.freshness` is the one definition of missing / stale / up to date.
"""
