-- The order fact table: one row per order, with the customer's order sequence and running totals.
-- The CTE is named like this model on purpose: a CTE is not a reference to the model itself.
with orders as (
    select * from int_orders_enriched
),

sequenced as (
    select
        *,
        row_number() over (partition by customer_id order by ordered_at, order_id)
            as customer_order_number,
        lag(ordered_at) over (partition by customer_id order by ordered_at, order_id)
            as previous_ordered_at,
        sum(net_paid_amount) over (
            partition by customer_id
            order by ordered_at, order_id
            rows between unbounded preceding and current row
        ) as customer_running_revenue
    from orders
)

select
    order_id,
    customer_id,
    ordered_at,
    order_date,
    status,
    line_count,
    item_count,
    subtotal,
    discount_amount,
    shipping_amount,
    order_total,
    gross_paid_amount,
    refunded_amount,
    net_paid_amount as net_revenue,
    credit_card_amount,
    paypal_amount,
    bank_transfer_amount,
    gift_card_amount,
    has_subscription,
    customer_order_number,
    customer_order_number = 1 as is_first_order,
    date_diff('day', previous_ordered_at, ordered_at) as days_since_previous_order,
    customer_running_revenue,
    status = 'returned' as is_returned,
    order_total >= {{ var('min_order_amount') }} as is_qualifying_order
from sequenced
