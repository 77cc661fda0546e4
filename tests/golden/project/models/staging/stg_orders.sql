select
    id as order_id,
    customer_id,
    {{ cents_to_dollars('amount_cents') }} as amount,
    ordered_at
from {{ ref('raw_orders') }}
