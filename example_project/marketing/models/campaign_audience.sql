-- Who gets the loyalty campaign: repeat and VIP customers, from the shop's public `customers`.
select
    customer_id,
    full_name,
    country_code,
    lifetime_value
from {{ ref('jaffle_commerce', 'customers') }}
where lifetime_value > 0
