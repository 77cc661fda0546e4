-- customers with their CRM segment
with segments as (
    select * from {{ source('crm', 'segments') }}
)
select c.id as customer_id, c.name, s.segment
from raw_customers c
left join segments s on s.customer_id = c.id
