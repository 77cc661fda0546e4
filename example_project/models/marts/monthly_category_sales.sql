-- Units and revenue per product category and month: a monthly rollup of the daily fact.
-- orch reads fct_order_lines filtered to this month automatically (see `orch compile -s
-- monthly_category_sales`): each month waits only for its own days.
{{ config(
    materialized='incremental',
    partitioned_by={'grain': 'monthly', 'start': '2024-01-01', 'end': '2025-01-01', 'column': 'month'},
) }}
select
    cast(date_trunc('month', ordered_at) as date) as month,
    category,
    count(distinct order_id) as order_count,
    sum(quantity) as units_sold,
    sum(line_amount) as revenue
from fct_order_lines
group by 1, 2
