{#- Map a credit code or county code to its area through int_microdata_area_map: a Chongqing
    member district by all six digits, a Sichuan member city by its first four, the rest of
    Sichuan or Chongqing by the first two, everything else the rest of China. `digits` is an
    expression giving the six-digit county code; `alias` names the three joins. -#}
{% macro microdata_area_joins(digits, alias) -%}
    left join {{ ref('int_microdata_area_map') }} as {{ alias }}_6
        on {{ alias }}_6.match_length = 6 and {{ alias }}_6.match_value = {{ digits }}
    left join {{ ref('int_microdata_area_map') }} as {{ alias }}_4
        on {{ alias }}_4.match_length = 4 and {{ alias }}_4.match_value = left({{ digits }}, 4)
    left join {{ ref('int_microdata_area_map') }} as {{ alias }}_2
        on {{ alias }}_2.match_length = 2 and {{ alias }}_2.match_value = left({{ digits }}, 2)
{%- endmacro %}

{% macro microdata_area_column(alias, column, default) -%}
    coalesce({{ alias }}_6.{{ column }}, {{ alias }}_4.{{ column }}, {{ alias }}_2.{{ column }}
        {%- if default is not none %}, {{ default }}{% endif %})
{%- endmacro %}

{#- Attribute each seller x buyer x month row of `pairs` (seller_code, buyer_code, month) to the
    parties' area, province and division valid at the end of the month (`enterprise_months`:
    int_microdata_enterprise_months); a party outside the register keeps the area its credit
    code was issued in and division `unknown`. Used once, by int_microdata_supply_pairs, which
    fct_supply_flow and the cells of the marts (their disclosure contributions) read. -#}
{% macro microdata_attribute_pairs(pairs, enterprise_months) -%}
    select
        {{ pairs }}.*,
        coalesce(
            seller.area_code,
            {{ microdata_area_column('seller_area', 'area_code', "'rest_of_china'") }}
        ) as seller_area_code,
        coalesce(
            seller.area_group,
            {{ microdata_area_column('seller_area', 'area_group', "'rest_of_china'") }}
        ) as seller_area_group,
        case when seller.credit_code is not null then seller.province_code
            else {{ microdata_area_column('seller_area', 'province_code', 'null') }}
        end as seller_province_code,
        coalesce(seller.division_code, 'unknown') as seller_division_code,
        coalesce(
            buyer.area_code,
            {{ microdata_area_column('buyer_area', 'area_code', "'rest_of_china'") }}
        ) as buyer_area_code,
        coalesce(
            buyer.area_group,
            {{ microdata_area_column('buyer_area', 'area_group', "'rest_of_china'") }}
        ) as buyer_area_group,
        case when buyer.credit_code is not null then buyer.province_code
            else {{ microdata_area_column('buyer_area', 'province_code', 'null') }}
        end as buyer_province_code,
        coalesce(buyer.division_code, 'unknown') as buyer_division_code
    from {{ pairs }}
    left join {{ enterprise_months }} as seller
        on {{ pairs }}.seller_code = seller.credit_code and {{ pairs }}.month = seller.month
    left join {{ enterprise_months }} as buyer
        on {{ pairs }}.buyer_code = buyer.credit_code and {{ pairs }}.month = buyer.month
    {{ microdata_area_joins('substr(' ~ pairs ~ '.seller_code, 3, 6)', 'seller_area') }}
    {{ microdata_area_joins('substr(' ~ pairs ~ '.buyer_code, 3, 6)', 'buyer_area') }}
{%- endmacro %}
