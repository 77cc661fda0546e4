-- Units, revenue and return rate per product, ranked within its category.
with order_items as (
    select * from int_order_items_enriched
),

orders as (
    select order_id, status from stg_orders
),

sales as (
    select
        order_items.product_id,
        count(distinct order_items.order_id) as order_count,
        sum(order_items.quantity) as units_sold,
        sum(order_items.line_amount) as revenue,
        sum(order_items.discount_amount) as discount_amount,
        count(distinct order_items.order_id) filter (where orders.status = 'returned')
            as returned_order_count
    from order_items
    inner join orders
        on order_items.order_id = orders.order_id
    group by order_items.product_id
)

select
    products.product_id,
    products.sku,
    products.product_name,
    products.category,
    products.list_price,
    products.is_active,
    coalesce(sales.order_count, 0) as order_count,
    coalesce(sales.units_sold, 0) as units_sold,
    coalesce(sales.revenue, 0) as revenue,
    coalesce(sales.discount_amount, 0) as discount_amount,
    round(coalesce(sales.returned_order_count, 0) / nullif(sales.order_count, 0), 4)
        as return_rate,
    rank() over (partition by products.category order by coalesce(sales.revenue, 0) desc)
        as category_revenue_rank,
    round(
        coalesce(sales.revenue, 0) / sum(coalesce(sales.revenue, 0)) over (), 4
    ) as share_of_revenue
from stg_products as products
left join sales
    on products.product_id = sales.product_id
