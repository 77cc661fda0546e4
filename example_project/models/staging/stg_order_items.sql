-- One row per order line.
select
    cast(id as integer) as order_item_id,
    cast(order_id as integer) as order_id,
    cast(product_id as integer) as product_id,
    cast(quantity as integer) as quantity,
    {{ cents_to_dollars('unit_price_cents') }} as unit_price,
    {{ cents_to_dollars('quantity * unit_price_cents') }} as line_amount
from {{ ref('raw_order_items') }}
