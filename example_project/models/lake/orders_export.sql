-- materialized='external': the result is written as Parquet files (not a table), split by status.
{{ config(materialized='external', format='parquet', partition_by=['status']) }}
select order_id, customer_id, status, order_total
from orders
