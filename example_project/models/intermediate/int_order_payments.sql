{{ config(materialized='ephemeral') }}
-- Successful payments per order: what was paid, what was refunded, and how.
-- Ephemeral: inlined as a CTE wherever it is used.
with payments as (
    select * from stg_payments
    where is_successful
)

select
    order_id,
    sum(case when not is_refund then amount else 0 end) as gross_paid_amount,
    -sum(case when is_refund then amount else 0 end) as refunded_amount,
    sum(amount) as net_paid_amount,
    sum(case when payment_method = 'credit_card' and not is_refund then amount else 0 end)
        as credit_card_amount,
    sum(case when payment_method = 'paypal' and not is_refund then amount else 0 end)
        as paypal_amount,
    sum(case when payment_method = 'bank_transfer' and not is_refund then amount else 0 end)
        as bank_transfer_amount,
    sum(case when payment_method = 'gift_card' and not is_refund then amount else 0 end)
        as gift_card_amount,
    count(distinct payment_method) filter (where not is_refund) as payment_method_count,
    max(created_at) as last_payment_at
from payments
group by order_id
