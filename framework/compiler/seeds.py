"""Seeds: a CSV file's node (its columns from the header, checked as the load will read it)."""

from __future__ import annotations

import csv
import hashlib
import io

from orch.compiler.settings import ModelSettings, fingerprint_of, settings_fingerprint
from orch.errors import Location, ProjectError, decoding_error
from orch.load.dbt_seeds import infer_seed_types
from orch.load.project import Project
from orch.manifest import ColumnInfo, Node, RelationInfo


def seed_node(project: Project, settings: ModelSettings, name: str) -> Node:
    """The node of seed ``name``: its relation, config, columns and fingerprint."""
    seed = project.seeds[name]
    config, description, patch_path = settings.config_for(
        name, seed.path, project.config.seeds, None
    )
    config = config.model_copy(update={"materialized": "table"})
    raw = seed.abs_path.read_bytes()
    header = seed_header(raw, seed.path)
    if project.flavor == "dbt":  # the types dbt seed would create, unless declared
        inferred = infer_seed_types(seed.abs_path, project.target.type)
        types = {**inferred, **config.column_types}
        config = config.model_copy(update={"column_types": types})
    declared = settings.columns_for(name)
    columns = {
        c: declared.get(c) or ColumnInfo(name=c, data_type=config.column_types.get(c))
        for c in header
    }
    fingerprint = fingerprint_of(hashlib.sha256(raw).hexdigest(), settings_fingerprint(config))
    return Node(
        name=name,
        unique_id=f"seed.{seed.package or project.name}.{name}",
        resource_type="seed",
        path=seed.path,
        patch_path=patch_path,
        relation=RelationInfo.from_relation(settings.relation_for(name, config)),
        config=config,
        columns=columns,
        description=description,
        fingerprint=fingerprint,
    )


def seed_header(raw: bytes, path: str) -> list[str]:
    """A seed's column names, after checking the CSV the way the warehouse will load it.

    An empty file, a header with an empty or a repeated name (which the load would rename
    ``a_1``), a row with more or fewer values than the header, and bytes that are not UTF-8 are
    errors at ``file:line`` here, at compile time, rather than load errors at run time.
    """
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise decoding_error(err, path, raw) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        row = next(reader, None)
        while row == []:  # blank lines before the header
            row = next(reader, None)
        if row is None:
            raise ProjectError(
                "the seed is empty",
                location=Location(path, 1),
                hint="Write a header row with the column names (and rows of values), "
                "or remove the file",
            )
        header_line = reader.line_num
        header = [c.strip() for c in row]
        _check_header(header, path, header_line)
        for values in reader:
            if not values:  # a blank line, skipped by the load too
                continue
            if len(values) != len(header):
                count = f"{len(values)} value" + ("" if len(values) == 1 else "s")
                raise ProjectError(
                    f"this row has {count}, the header has {len(header)} columns",
                    location=Location(path, reader.line_num),
                    hint="Give every row one value per column (quote values holding a comma)",
                )
    except csv.Error as err:
        raise ProjectError(
            f"not a valid CSV file: {err}",
            location=Location(path, reader.line_num),
            hint="Fix the quoting at that line",
        ) from None
    return header


def _check_header(header: list[str], path: str, line: int) -> None:
    seen: dict[str, int] = {}
    for i, name in enumerate(header, start=1):
        if not name:
            raise ProjectError(
                f"column {i} of the header has no name",
                location=Location(path, line),
                hint="Name every column in the first row (or remove a trailing comma)",
            )
        key = name.casefold()
        if key in seen:
            raise ProjectError(
                f"the header repeats the column '{name}' (columns {seen[key]} and {i})",
                location=Location(path, line),
                hint="Give each column its own name: the load would rename the second one "
                f"'{name}_1'",
            )
        seen[key] = i
