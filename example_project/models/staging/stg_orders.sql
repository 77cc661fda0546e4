-- One row per order. Statuses written by a legacy importer (" Completed ") are normalized.
select
    id as order_id,
    customer_id,
    ordered_at,
    cast(ordered_at as date) as order_date,
    lower(trim(status)) as status,
    {{ cents_to_dollars('shipping_cents') }} as shipping_amount
from raw_orders
