-- The campaign audience per country: a model reading the other member's model is an ordinary one.
select country_code, count(*) as customers, sum(lifetime_value) as lifetime_value
from {{ ref('campaign_audience') }}
group by country_code
