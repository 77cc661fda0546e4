{{ config(tags=['finance']) }}
with orders as (
    select customer_id, sum(amount) as total, count(*) as n_orders
    from stg_orders
    group by customer_id
)
select
    c.customer_id,
    c.name,
    o.total,
    o.n_orders,
    rank() over (order by o.total desc) as revenue_rank
from stg_customers c
join orders o using (customer_id)
where o.total >= {{ var('min_total') }}
