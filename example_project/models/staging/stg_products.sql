-- One row per product in the catalog, prices in dollars.
select
    cast(id as integer) as product_id,
    sku,
    name as product_name,
    category,
    {{ cents_to_dollars('price_cents') }} as list_price,
    cast(is_active as boolean) as is_active
from raw_products
