-- SQL reading a Python asset by name, like any other table.
select
    segment,
    count(*) as customers,
    round(avg(recency_days), 1) as avg_recency_days,
    round(avg(frequency), 2) as avg_orders,
    round(sum(monetary), 2) as revenue,
    round(sum(monetary) / sum(sum(monetary)) over (), 4) as revenue_share
from customer_segments
group by segment
order by revenue desc
