"""The part of dbt's built-in macro library (the ``dbt`` namespace) that packages call.

Packages such as dbt_utils build their SQL from dbt's cross-database macros (``dbt.hash``,
``dbt.concat``, ``dbt.type_string``...). orch writes its own small Jinja versions here, with
the SQL dbt-duckdb renders on DuckDB (the same column types: ``dbt.type_float()`` is ``float``,
DuckDB's 4-byte REAL, as in dbt). Each is dispatched exactly like dbt's (``adapter.dispatch(name,
'dbt')``), so a project's own ``default__x`` / ``duckdb__x`` overrides it. A ``dbt.x`` not
listed in :data:`BUILTIN_NAMES` is refused by name (:class:`orch.load.rendering.MacroNamespace`).
"""

from __future__ import annotations

import re

BUILTINS_PATH = "<orch: dbt built-in macros>"
_PARAMETER = re.compile(r"(?:^|,)\s*(\w+)")  # a parameter's name (a default's ',' is no match)

_DISPATCHED = {
    # name: (arguments, default body, duckdb body or None)
    "type_string": ("", "TEXT", None),
    "type_int": ("", "integer", None),
    "type_bigint": ("", "bigint", None),
    "type_float": ("", "float", None),
    "type_numeric": ("", "numeric(28,6)", None),
    "type_boolean": ("", "boolean", None),
    "type_timestamp": ("", "timestamp", None),
    "hash": ("field", "md5(cast({{ field }} as {{ dbt.type_string() }}))", None),
    "concat": ("fields", "{{ fields | join(' || ') }}", None),
    "cast": ("field, type", "cast({{ field }} as {{ type }})", None),
    "safe_cast": ("field, type", "cast({{ field }} as {{ type }})",
                  "try_cast({{ field }} as {{ type }})"),
    "current_timestamp": ("", "now()", None),
    "date_trunc": ("datepart, date", "date_trunc('{{ datepart }}', {{ date }})", None),
    "dateadd": (
        "datepart, interval, from_date_or_timestamp",
        "dateadd({{ datepart }}, {{ interval }}, {{ from_date_or_timestamp }})",
        "{%- set unit = datepart | lower -%}"
        "{%- if unit == 'quarter' -%}({{ from_date_or_timestamp }} + (cast({{ interval }} as "
        "bigint) * 3) * interval 1 month)"
        "{%- elif unit == 'week' -%}({{ from_date_or_timestamp }} + (cast({{ interval }} as "
        "bigint) * 7) * interval 1 day)"
        "{%- else -%}({{ from_date_or_timestamp }} + cast({{ interval }} as bigint) * interval 1 "
        "{{ unit }}){%- endif -%}",
    ),
    "datediff": (
        "first_date, second_date, datepart",
        "datediff({{ datepart }}, {{ first_date }}, {{ second_date }})",
        "(date_diff('{{ datepart }}', {{ first_date }}::timestamp, {{ second_date }}::timestamp))",
    ),
    "split_part": ("string_text, delimiter_text, part_number",
                   "split_part({{ string_text }}, {{ delimiter_text }}, {{ part_number }})",
                   "string_split({{ string_text }}, {{ delimiter_text }})[ {{ part_number }} ]"),
    "any_value": ("expression", "any_value({{ expression }})", "arbitrary({{ expression }})"),
    "bool_or": ("expression", "bool_or({{ expression }})", None),
    "length": ("expression", "length({{ expression }})", None),
    "replace": ("field, old_chars, new_chars",
                "replace({{ field }}, {{ old_chars }}, {{ new_chars }})", None),
    "position": ("substring_text, string_text",
                 "position({{ substring_text }} in {{ string_text }})", None),
    "right": ("string_text, length_expression",
              "right({{ string_text }}, {{ length_expression }})", None),
    "escape_single_quotes": ("expression", "{{ expression | replace(\"'\", \"''\") }}", None),
    "string_literal": ("value", "'{{ value }}'", None),
    "cast_bool_to_text": ("field", "cast({{ field }} as {{ dbt.type_string() }})", None),
    "last_day": ("date, datepart",
                 "cast({{ dbt.dateadd('day', '-1', dbt.dateadd(datepart, '1', "
                 "dbt.date_trunc(datepart, date))) }} as date)", None),
    "except": ("", "except", None),
    "intersect": ("", "intersect", None),
    "listagg": (
        "measure, delimiter_text=\"','\", order_by_clause=none, limit_num=none",
        "{% if limit_num -%}array_to_string(array_slice(array_agg({{ measure }})"
        "{% if order_by_clause %} within group ({{ order_by_clause }}){% endif %}, 0, "
        "{{ limit_num }}), {{ delimiter_text }})"
        "{%- else -%}listagg({{ measure }}, {{ delimiter_text }})"
        "{% if order_by_clause %} within group ({{ order_by_clause }}){% endif %}{%- endif %}",
        "{% if limit_num -%}list_aggr((array_agg({{ measure }}"
        "{% if order_by_clause %} {{ order_by_clause }}{% endif %}))[1:{{ limit_num }}], "
        "'string_agg', {{ delimiter_text }})"
        "{%- else -%}string_agg({{ measure }}, {{ delimiter_text }}"
        "{% if order_by_clause %} {{ order_by_clause }}{% endif %}){%- endif %}",
    ),
    "date": ("year, month, day",
             "to_date('{{ modules.datetime.date(year, month, day).strftime('%Y-%m-%d') }}', "
             "'YYYY-MM-DD')",
             "make_date({{ year }}, {{ month }}, {{ day }})"),
    "array_construct": (
        "inputs=[], data_type='integer'",
        "{% if inputs | length > 0 %}array[ {{ inputs | join(' , ') }} ]"
        "{% else %}array[]::{{ data_type }}[]{% endif %}",
        None,
    ),
    "array_append": ("array, new_element", "array_append({{ array }}, {{ new_element }})", None),
    "array_concat": ("array_1, array_2", "array_cat({{ array_1 }}, {{ array_2 }})", None),
    # dbt 1.11's default: the behaviour flag enable_truthy_nulls_equals_macro is off
    "equals": ("expr1, expr2", "({{ expr1 }} = {{ expr2 }})", None),
    "get_powers_of_two": (
        "upper_bound",
        "{% if upper_bound <= 0 %}{{ exceptions.raise_compiler_error('upper bound must be "
        "positive') }}{% endif %}{% for _ in range(1, 100) %}{% if upper_bound <= 2 ** "
        "loop.index %}{{ return(loop.index) }}{% endif %}{% endfor %}",
        None,
    ),
    "generate_series": (
        "upper_bound",
        "{% set n = dbt.get_powers_of_two(upper_bound) %}with p as (select 0 as generated_number "
        "union all select 1), unioned as (select {% for i in range(n) %}p{{ i }}.generated_number"
        " * power(2, {{ i }}){% if not loop.last %} + {% endif %}{% endfor %} + 1 as "
        "generated_number from {% for i in range(n) %}p as p{{ i }}{% if not loop.last %} cross "
        "join {% endif %}{% endfor %}) select * from unioned where generated_number <= "
        "{{ upper_bound }} order by generated_number",
        "select generate_series as generated_number from generate_series(1, {{ upper_bound }})",
    ),
    # queries the warehouse: a model calling it is rendered again right before it runs
    "get_intervals_between": (
        "start_date, end_date, datepart",
        "{%- call statement('get_intervals_between', fetch_result=True) %}select "
        "{{ dbt.datediff(start_date, end_date, datepart) }}{%- endcall -%}"
        "{%- set value_list = load_result('get_intervals_between') -%}"
        "{%- if value_list and value_list['data'] -%}"
        "{{ return(value_list['data'] | map(attribute=0) | list | first) }}"
        "{%- else -%}{{ return(1) }}{%- endif -%}",
        None,
    ),
    "date_spine": (
        "datepart, start_date, end_date",
        "with rawdata as ({{ dbt.generate_series(dbt.get_intervals_between(start_date, end_date, "
        "datepart)) }}), all_periods as (select ({{ dbt.dateadd(datepart, 'row_number() over "
        "(order by 1) - 1', start_date) }}) as date_{{ datepart }} from rawdata), filtered as "
        "(select * from all_periods where date_{{ datepart }} <= {{ end_date }}) "
        "select * from filtered",
        None,
    ),
}  # fmt: skip

BUILTIN_NAMES = tuple(sorted(_DISPATCHED))


def builtin_macros_source() -> str:
    """The Jinja source of the built-ins: ``name`` dispatching to ``default__name`` /
    ``duckdb__name``, as dbt's global project defines them."""
    parts = []
    for name, (args, default, duckdb) in sorted(_DISPATCHED.items()):
        call = ", ".join(_PARAMETER.findall(args))  # the names, without their defaults
        parts.append(
            f"{{% macro {name}({args}) -%}}"
            f"{{{{ return(adapter.dispatch('{name}', 'dbt')({call})) }}}}{{%- endmacro %}}"
        )
        parts.append(f"{{% macro default__{name}({args}) -%}}{default}{{%- endmacro %}}")
        if duckdb is not None:
            parts.append(f"{{% macro duckdb__{name}({args}) -%}}{duckdb}{{%- endmacro %}}")
    return "\n".join(parts) + "\n"
