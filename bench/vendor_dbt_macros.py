"""Write ``framework/compiler/dbt_builtin_macros.json``: dbt's built-in macros, as dbt lists them.

    python bench/vendor_dbt_macros.py /work/dbtvenv/bin/dbt

dbt's ``manifest.json`` lists every macro dbt knows: a project's own, its packages', and dbt's
built-in ones (the ``dbt`` package: dbt-core's generic tests and dbt-adapters' global project;
``dbt_duckdb``: the adapter's). ``dbt ls -s state:modified --state DIR`` calls a node modified
when a macro it calls (directly or through other macros) is missing from DIR's manifest or has
another ``macro_sql``, so orch's dbt manifest (:mod:`orch.compiler.dbt_macros`) lists the built-in
ones too, read from this file. The script runs ``dbt parse`` on an empty dbt-duckdb project and
keeps the ``dbt`` and ``dbt_duckdb`` macros (text from dbt-core, dbt-adapters and dbt-duckdb,
Apache-2.0). Run it again after moving to another dbt release; it prints the versions it read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "framework" / "compiler" / "dbt_builtin_macros.json"
PACKAGES = ("dbt", "dbt_duckdb")
KEPT = ("name", "package_name", "path", "original_file_path", "macro_sql", "depends_on",
        "supported_languages")  # fmt: skip


def main(argv: list[str]) -> int:
    dbt = argv[0]
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        (project / "models").mkdir()
        (project / "models" / "one.sql").write_text("select 1 as x\n")
        (project / "dbt_project.yml").write_text(
            "name: vendor\nversion: '1.0'\nconfig-version: 2\nprofile: vendor\n"
        )
        (project / "profiles.yml").write_text(
            "vendor:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
            "      path: vendor.duckdb\n"
        )
        env = dict(os.environ, DBT_SEND_ANONYMOUS_USAGE_STATS="false", HOME=tmp)
        subprocess.run([dbt, "parse", "--profiles-dir", tmp, "--project-dir", tmp], check=True,
                       env=env, cwd=tmp, capture_output=True)  # fmt: skip
        manifest = json.loads((project / "target" / "manifest.json").read_text())
        version = subprocess.run([dbt, "--version"], env=env, capture_output=True, text=True)
    macros = {uid: {k: m[k] for k in KEPT} for uid, m in sorted(manifest["macros"].items())
              if m["package_name"] in PACKAGES}  # fmt: skip
    header = {
        "dbt_version": manifest["metadata"]["dbt_version"],
        "adapter_type": "duckdb",
        "license": "Apache-2.0 (dbt-core, dbt-adapters, dbt-duckdb)",
        "generated_by": "bench/vendor_dbt_macros.py",
    }
    lines = [json.dumps(header)]
    lines += [json.dumps({"unique_id": uid, **m}) for uid, m in macros.items()]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(version.stdout.strip())
    print(f"{len(macros)} macros -> {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
