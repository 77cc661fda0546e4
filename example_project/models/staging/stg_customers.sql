-- One row per customer. Emails are trimmed and lower-cased; a missing email stays NULL.
with source as (
    select * from {{ ref('raw_customers') }}
),

renamed as (
    select
        cast(id as integer) as customer_id,
        trim(first_name) as first_name,
        trim(last_name) as last_name,
        trim(first_name) || ' ' || trim(last_name) as full_name,
        nullif(lower(trim(email)), '') as email,
        cast(signed_up_at as timestamp) as signed_up_at,
        upper(country) as country_code,
        acquisition_channel
    from source
)

select * from renamed
