-- One row: which build of the warehouse this is ("data as of"), from what inputs, and
-- how much of the sector output panel rests on estimates. `chengyu build` writes build_id
-- and code_version into raw.build_context (stg_inputs__build_context; empty for a plain
-- dbt run: 'dev'); the input hashes are those the input reader recorded.
with

context as (
    -- One row, also when the table is empty (a plain dbt run).
    select
        coalesce(max(build_id), 'dev') as build_id,
        coalesce(max(code_version), 'unknown') as code_version
    from {{ ref('stg_inputs__build_context') }}
),

files as (
    select * from {{ ref('stg_inputs__load_audit') }}
),

panel as (
    select * from {{ ref('fct_sector_output') }}
),

inputs as (
    select
        count(*) as input_file_count,
        {{ sha256_hex("coalesce(" ~ ordered_string_agg("file || ' ' || sha256", "chr(10)", "file") ~ ", '')") }}
            as inputs_sha256,
        max(file) filter (where kind = 'sector_output') as user_file,
        max(sha256) filter (where kind = 'sector_output') as user_file_sha256,
        max(loaded_at) as inputs_read_at
    from files
),

estimates as (
    select
        -- Estimated by the fit, whatever the label (synthetic when a synthetic supplied figure
        -- entered the fit): every cell neither the user nor the microdata supplied. Shares of
        -- double literals: Spark's avg of decimals is a decimal, which the contract refuses.
        avg(case when method not in ('user_supplied', 'microdata') then 1.0e0 else 0.0e0 end) as estimated_cell_share,
        sum(case when method not in ('user_supplied', 'microdata') then output_value_yuan else 0 end)
        / nullif(sum(output_value_yuan), 0) as estimated_value_share,
        avg(case when method = 'microdata' then 1.0e0 else 0.0e0 end) as microdata_cell_share,
        -- The data period readers quote beside "data as of": the panel's first and last year.
        min(year) as data_first_year,
        max(year) as data_last_year
    from panel
),

final as (
    select
        context.build_id,
        {{ utc_now() }} as built_at,
        context.code_version,
        inputs.input_file_count,
        inputs.inputs_sha256,
        inputs.user_file,
        inputs.user_file_sha256,
        inputs.inputs_read_at,
        estimates.estimated_cell_share,
        estimates.estimated_value_share,
        estimates.microdata_cell_share,
        estimates.data_first_year,
        estimates.data_last_year
    from context
    cross join inputs
    cross join estimates
)

select * from final
