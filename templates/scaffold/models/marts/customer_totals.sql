-- One row per customer: dependencies are found by parsing, no ref() needed.
select
    customer,
    count(*) as orders,
    sum(amount) as total_amount
from stg_orders
where amount >= {{ var('min_amount') }}
group by customer
