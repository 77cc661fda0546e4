-- Month-over-month change per channel, downstream of the partitioned Python asset.
select
    month,
    acquisition_channel,
    order_count,
    net_revenue,
    net_revenue - lag(net_revenue) over (partition by acquisition_channel order by month)
        as revenue_change
from monthly_channel_revenue
order by acquisition_channel, month
