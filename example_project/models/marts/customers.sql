-- One row per customer with order counts, lifetime value and a simple segment.
with customers as (
    select * from {{ ref('stg_customers') }}
),

customer_orders as (
    select
        customer_id,
        min(ordered_at) as first_ordered_at,
        max(ordered_at) as most_recent_ordered_at,
        count(*) as order_count,
        count(*) filter (where is_returned) as returned_order_count,
        sum(net_revenue) as lifetime_value,
        avg(order_total) as average_order_value
    from orders
    group by customer_id
)

select
    customers.customer_id,
    customers.first_name,
    customers.last_name,
    customers.full_name,
    customers.email,
    customers.country_code,
    customers.acquisition_channel,
    customers.signed_up_at,
    customer_orders.first_ordered_at,
    customer_orders.most_recent_ordered_at,
    coalesce(customer_orders.order_count, 0) as order_count,
    coalesce(customer_orders.returned_order_count, 0) as returned_order_count,
    coalesce(customer_orders.lifetime_value, 0) as lifetime_value,
    round(customer_orders.average_order_value, 2) as average_order_value,
    case
        when customer_orders.order_count is null then 'prospect'
        when customer_orders.lifetime_value >= {{ var('high_value_threshold', 500) }} then 'vip'
        when customer_orders.order_count >= 3 then 'repeat'
        else 'new'
    end as customer_segment
from customers
left join customer_orders
    on customers.customer_id = customer_orders.customer_id
