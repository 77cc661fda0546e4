{#- Convert an integer amount in cents to dollars, as a decimal with two places. -#}
{% macro cents_to_dollars(column, precision=18) -%}
    cast(({{ column }}) / 100.0 as decimal({{ precision }}, 2))
{%- endmacro %}
