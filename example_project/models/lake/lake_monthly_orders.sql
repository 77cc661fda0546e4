-- SQL reading a Parquet-stored asset by name: it compiles to read_parquet over its files.
select
    date_trunc('month', ordered_at) as order_month,
    count(*) as orders,
    round(sum(order_total), 2) as revenue
from order_lake
group by 1
order by 1
