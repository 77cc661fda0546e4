-- Refunds never exceed what was paid, so no day may have negative net revenue.
-- Every row returned is a failure.
select
    order_date,
    gross_revenue,
    refunded_amount,
    net_revenue
from daily_revenue
where net_revenue < 0
