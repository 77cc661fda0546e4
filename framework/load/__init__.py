"""Load: files on disk -> a Project (config, model files, rendered Jinja, parsed SQL, user Python).

The only stage that reads a project's files. Parse results are cached by content hash
(:mod:`orch.load.cache`); user Python files are imported by one importer
(:mod:`orch.load.python_files`).
"""
