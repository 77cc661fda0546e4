{{ config(materialized='incremental', unique_key='order_id') }}
-- Does what was paid match what was ordered? One row per order; built incrementally: a normal run
-- only processes orders newer than the newest one already in the table.
select
    order_id,
    customer_id,
    ordered_at,
    status,
    order_total,
    gross_paid_amount,
    refunded_amount,
    net_paid_amount,
    gross_paid_amount - order_total as payment_difference,
    case
        when gross_paid_amount = 0 then 'unpaid'
        when gross_paid_amount < order_total then 'underpaid'
        when gross_paid_amount > order_total then 'overpaid'
        when refunded_amount > 0 then 'refunded'
        else 'settled'
    end as reconciliation_status
from int_orders_enriched
{% if is_incremental() %}
where ordered_at > (select max(ordered_at) from {{ this }})
{% endif %}
