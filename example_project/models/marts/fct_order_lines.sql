-- One row per order line, written one day at a time (a daily-partitioned fact).
-- {{ partition.start }} / {{ partition.end }} are the day's bounds; stg_orders and the product
-- dimension are unpartitioned, so this model filters the orders to its window itself.
{{ config(
    materialized='incremental',
    partitioned_by={
        'grain': 'daily',
        'start': '2024-01-01',
        'end': '2025-01-01',
        'column': 'ordered_at',
        'lookback': 2,
    },
) }}
select
    items.order_item_id,
    items.order_id,
    orders.customer_id,
    orders.ordered_at,
    orders.order_date,
    items.product_id,
    products.category,
    items.quantity,
    items.line_amount
from stg_order_items as items
join stg_orders as orders on items.order_id = orders.order_id
join stg_products as products on items.product_id = products.product_id
where orders.ordered_at >= {{ partition.start }}
  and orders.ordered_at < {{ partition.end }}
