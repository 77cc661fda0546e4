-- Order lines with their product's category and the discount against the list price.
with order_items as (
    select * from stg_order_items
),

products as (
    select * from stg_products
)

select
    order_items.order_item_id,
    order_items.order_id,
    order_items.product_id,
    products.sku,
    products.product_name,
    products.category,
    order_items.quantity,
    order_items.unit_price,
    products.list_price,
    order_items.line_amount,
    (products.list_price - order_items.unit_price) * order_items.quantity as discount_amount,
    products.category = 'subscription' as is_subscription
from order_items
inner join products
    on order_items.product_id = products.product_id
