-- One row per payment attempt. Refunds are payments with a negative amount; failed attempts are
-- kept (with is_successful = false) so that they can be audited, but never count as revenue.
select
    cast(id as integer) as payment_id,
    cast(order_id as integer) as order_id,
    payment_method,
    {{ cents_to_dollars('amount_cents') }} as amount,
    amount_cents < 0 as is_refund,
    status = 'success' as is_successful,
    cast(created_at as timestamp) as created_at
from raw_payments
