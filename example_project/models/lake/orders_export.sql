-- materialized='external': the result is written as Parquet files (not a table), one folder per
-- status. Snowflake cannot write local files: there it is a table (target.type in Jinja).
{{ config(
    materialized='external' if target.type == 'duckdb' else 'table',
    format='parquet',
    partition_by=['status'],
) }}
select order_id, customer_id, status, order_total
from orders
