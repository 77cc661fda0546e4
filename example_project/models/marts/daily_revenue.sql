-- Revenue per calendar day of 2024 (days without orders included), with a 7-day moving average.
with days as (
    select cast(day as date) as order_date
    from range(date '2024-01-01', date '2025-01-01', interval 1 day) as spine(day)
),

daily as (
    select
        order_date,
        count(*) as order_count,
        count(*) filter (where is_qualifying_order) as qualifying_order_count,
        count(distinct customer_id) as customer_count,
        sum(order_total) as gross_revenue,
        sum(refunded_amount) as refunded_amount,
        sum(net_revenue) as net_revenue
    from {{ ref('orders') }}
    group by order_date
)

select
    days.order_date,
    coalesce(daily.order_count, 0) as order_count,
    coalesce(daily.qualifying_order_count, 0) as qualifying_order_count,
    coalesce(daily.customer_count, 0) as customer_count,
    coalesce(daily.gross_revenue, 0) as gross_revenue,
    coalesce(daily.refunded_amount, 0) as refunded_amount,
    coalesce(daily.net_revenue, 0) as net_revenue,
    round(
        avg(coalesce(daily.net_revenue, 0)) over (
            order by days.order_date rows between 6 preceding and current row
        ),
        2
    ) as net_revenue_7d_avg,
    sum(coalesce(daily.net_revenue, 0)) over (order by days.order_date) as cumulative_net_revenue
from days
left join daily
    on days.order_date = daily.order_date
