-- Orders joined with their line totals and their payments. The CTE named `orders` is local to
-- this query: it reads stg_orders and does not depend on the `orders` mart.
with orders as (
    select * from stg_orders
),

order_lines as (
    select
        order_id,
        count(*) as line_count,
        cast(sum(quantity) as integer) as item_count,
        sum(line_amount) as subtotal,
        sum(discount_amount) as discount_amount,
        bool_or(is_subscription) as has_subscription
    from int_order_items_enriched
    group by order_id
),

payments as (
    select * from {{ ref('int_order_payments') }}
)

select
    orders.order_id,
    orders.customer_id,
    orders.ordered_at,
    orders.order_date,
    orders.status,
    order_lines.line_count,
    order_lines.item_count,
    order_lines.subtotal,
    order_lines.discount_amount,
    orders.shipping_amount,
    order_lines.subtotal + orders.shipping_amount as order_total,
    order_lines.has_subscription,
    coalesce(payments.gross_paid_amount, 0) as gross_paid_amount,
    coalesce(payments.refunded_amount, 0) as refunded_amount,
    coalesce(payments.net_paid_amount, 0) as net_paid_amount,
    coalesce(payments.credit_card_amount, 0) as credit_card_amount,
    coalesce(payments.paypal_amount, 0) as paypal_amount,
    coalesce(payments.bank_transfer_amount, 0) as bank_transfer_amount,
    coalesce(payments.gift_card_amount, 0) as gift_card_amount,
    payments.last_payment_at
from orders
left join order_lines
    on orders.order_id = order_lines.order_id
left join payments
    on orders.order_id = payments.order_id
