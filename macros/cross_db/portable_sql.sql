{#- SQL that DuckDB and Spark spell differently, behind adapter.dispatch: one model, two
    engines. Each duckdb__ form is the spelling the models used before (so the DuckDB build
    does not change); each spark__ form is the Spark SQL 4.x equivalent. A regular
    expression is passed as the pattern itself (RE2 on DuckDB, java.util.regex on Spark,
    the same for the classes used here); Spark unescapes backslashes in string literals,
    DuckDB does not, so the Spark form doubles them. See docs/spark.md. -#}

{% macro sql_pattern_literal(pattern) -%}
    {{ return(adapter.dispatch('sql_pattern_literal')(pattern)) }}
{%- endmacro %}

{% macro default__sql_pattern_literal(pattern) -%}
    '{{ pattern | replace("'", "''") }}'
{%- endmacro %}

{% macro spark__sql_pattern_literal(pattern) -%}
    '{{ pattern | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}


{#- The first capture group of a regular expression, '' when it does not match. -#}
{% macro regexp_extract_group(expression, pattern, group=1) -%}
    {{ return(adapter.dispatch('regexp_extract_group')(expression, pattern, group)) }}
{%- endmacro %}

{% macro default__regexp_extract_group(expression, pattern, group=1) -%}
    regexp_extract({{ expression }}, {{ sql_pattern_literal(pattern) }}, {{ group }})
{%- endmacro %}


{#- True when the whole string matches the pattern (NULL for NULL). -#}
{% macro regexp_full_match(expression, pattern) -%}
    {{ return(adapter.dispatch('regexp_full_match')(expression, pattern)) }}
{%- endmacro %}

{% macro default__regexp_full_match(expression, pattern) -%}
    regexp_full_match({{ expression }}, {{ sql_pattern_literal(pattern) }})
{%- endmacro %}

{% macro spark__regexp_full_match(expression, pattern) -%}
    ({{ expression }} rlike {{ sql_pattern_literal('^(?:' ~ pattern ~ ')\\z') }})
{%- endmacro %}


{#- True when the string starts / ends with the other (NULL when either is NULL). -#}
{% macro starts_with(expression, prefix) -%}
    {{ return(adapter.dispatch('starts_with')(expression, prefix)) }}
{%- endmacro %}

{% macro default__starts_with(expression, prefix) -%}
    starts_with({{ expression }}, {{ prefix }})
{%- endmacro %}

{% macro spark__starts_with(expression, prefix) -%}
    startswith({{ expression }}, {{ prefix }})
{%- endmacro %}

{% macro ends_with(expression, suffix) -%}
    {{ return(adapter.dispatch('ends_with')(expression, suffix)) }}
{%- endmacro %}

{% macro default__ends_with(expression, suffix) -%}
    ends_with({{ expression }}, {{ suffix }})
{%- endmacro %}

{% macro spark__ends_with(expression, suffix) -%}
    endswith({{ expression }}, {{ suffix }})
{%- endmacro %}


{#- A list of strings from a delimited text; an empty list for NULL or ''. The delimiter is
    a plain string (Spark's split takes a regular expression: it is quoted). -#}
{% macro split_to_list(expression, delimiter) -%}
    {{ return(adapter.dispatch('split_to_list')(expression, delimiter)) }}
{%- endmacro %}

{% macro default__split_to_list(expression, delimiter) -%}
    coalesce(string_split(nullif({{ expression }}, ''), '{{ delimiter }}'), [])
{%- endmacro %}

{% macro spark__split_to_list(expression, delimiter) -%}
    coalesce(split(nullif({{ expression }}, ''), '\\Q{{ delimiter }}\\E'), cast(array() as array<string>))
{%- endmacro %}


{#- The parts of a text split at a plain delimiter, as DuckDB's string_split gives them: NULL
    for NULL, [''] for ''. Spark's split takes a regular expression: the delimiter is quoted. -#}
{% macro split_text(expression, delimiter) -%}
    {{ return(adapter.dispatch('split_text')(expression, delimiter)) }}
{%- endmacro %}

{% macro default__split_text(expression, delimiter) -%}
    string_split({{ expression }}, '{{ delimiter }}')
{%- endmacro %}

{% macro spark__split_text(expression, delimiter) -%}
    split({{ expression }}, '\\Q{{ delimiter }}\\E')
{%- endmacro %}


{#- The number of elements of a list (bigint). -#}
{% macro list_length(expression) -%}
    {{ return(adapter.dispatch('list_length')(expression)) }}
{%- endmacro %}

{% macro default__list_length(expression) -%}
    len({{ expression }})
{%- endmacro %}

{% macro spark__list_length(expression) -%}
    cast(size({{ expression }}) as bigint)
{%- endmacro %}


{#- The elements of a list joined into one text by the delimiter. -#}
{% macro list_to_string(expression, delimiter) -%}
    {{ return(adapter.dispatch('list_to_string')(expression, delimiter)) }}
{%- endmacro %}

{% macro default__list_to_string(expression, delimiter) -%}
    array_to_string({{ expression }}, '{{ delimiter }}')
{%- endmacro %}

{% macro spark__list_to_string(expression, delimiter) -%}
    array_join({{ expression }}, '{{ delimiter }}')
{%- endmacro %}


{#- Set-returning, in a select list: one row per element of a list (none for an empty or NULL
    list, on both engines). -#}
{% macro unnest_list(expression) -%}
    {{ return(adapter.dispatch('unnest_list')(expression)) }}
{%- endmacro %}

{% macro default__unnest_list(expression) -%}
    unnest({{ expression }})
{%- endmacro %}

{% macro spark__unnest_list(expression) -%}
    explode({{ expression }})
{%- endmacro %}


{#- An aggregate: the distinct non-NULL values of the group as a sorted list. DuckDB gives NULL
    for a group without one, Spark an empty array: callers coalesce. -#}
{% macro sorted_distinct_list_agg(expression) -%}
    {{ return(adapter.dispatch('sorted_distinct_list_agg')(expression)) }}
{%- endmacro %}

{% macro default__sorted_distinct_list_agg(expression) -%}
    list_sort(list_distinct(list({{ expression }}) filter (where {{ expression }} is not null)))
{%- endmacro %}

{% macro spark__sorted_distinct_list_agg(expression) -%}
    array_sort(collect_set({{ expression }}))
{%- endmacro %}


{#- The element of a list at a 1-based position (NULL beyond its end). Spark's arr[i] counts
    from 0. -#}
{% macro list_element(expression, position) -%}
    {{ return(adapter.dispatch('list_element')(expression, position)) }}
{%- endmacro %}

{% macro default__list_element(expression, position) -%}
    {{ expression }}[{{ position }}]
{%- endmacro %}

{% macro spark__list_element(expression, position) -%}
    element_at({{ expression }}, {{ position }})
{%- endmacro %}


{#- Whether a list holds a value (NULL for a NULL list). -#}
{% macro list_has(expression, value) -%}
    {{ return(adapter.dispatch('list_has')(expression, value)) }}
{%- endmacro %}

{% macro default__list_has(expression, value) -%}
    list_contains({{ expression }}, {{ value }})
{%- endmacro %}

{% macro spark__list_has(expression, value) -%}
    array_contains({{ expression }}, {{ value }})
{%- endmacro %}


{#- Two lists one after the other; a NULL list counts as empty (DuckDB's list_concat), NULL only
    when both are. -#}
{% macro concat_lists(first, second) -%}
    {{ return(adapter.dispatch('concat_lists')(first, second)) }}
{%- endmacro %}

{% macro default__concat_lists(first, second) -%}
    list_concat({{ first }}, {{ second }})
{%- endmacro %}

{% macro spark__concat_lists(first, second) -%}
    case when {{ first }} is null then {{ second }} when {{ second }} is null then {{ first }}
        else concat({{ first }}, {{ second }}) end
{%- endmacro %}


{#- A list's distinct values, sorted (a NULL element: DuckDB drops it, Spark keeps one at the
    end; list_to_string skips it on both). -#}
{% macro sorted_distinct_list(expression) -%}
    {{ return(adapter.dispatch('sorted_distinct_list')(expression)) }}
{%- endmacro %}

{% macro default__sorted_distinct_list(expression) -%}
    list_sort(list_distinct({{ expression }}))
{%- endmacro %}

{% macro spark__sorted_distinct_list(expression) -%}
    array_sort(array_distinct({{ expression }}))
{%- endmacro %}


{#- A list's distinct values (order unspecified; a NULL element: DuckDB drops it). -#}
{% macro distinct_list(expression) -%}
    {{ return(adapter.dispatch('distinct_list')(expression)) }}
{%- endmacro %}

{% macro default__distinct_list(expression) -%}
    list_distinct({{ expression }})
{%- endmacro %}

{% macro spark__distinct_list(expression) -%}
    array_distinct({{ expression }})
{%- endmacro %}


{#- An aggregate: the elements of the group's lists in one list (NULL lists skipped). -#}
{% macro flatten_list_agg(expression) -%}
    {{ return(adapter.dispatch('flatten_list_agg')(expression)) }}
{%- endmacro %}

{% macro default__flatten_list_agg(expression) -%}
    flatten(list({{ expression }}))
{%- endmacro %}

{% macro spark__flatten_list_agg(expression) -%}
    flatten(collect_list({{ expression }}))
{%- endmacro %}


{#- An aggregate: the quantile q (0-1) of the group's values, interpolated linearly between the
    two nearest (DuckDB quantile_cont, Spark percentile). -#}
{% macro continuous_quantile(expression, quantile) -%}
    {{ return(adapter.dispatch('continuous_quantile')(expression, quantile)) }}
{%- endmacro %}

{% macro default__continuous_quantile(expression, quantile) -%}
    quantile_cont({{ expression }}, {{ quantile }})
{%- endmacro %}

{% macro spark__continuous_quantile(expression, quantile) -%}
    percentile({{ expression }}, {{ quantile }})
{%- endmacro %}


{#- An aggregate (or window aggregate): x of the row with the largest v (ties: any of them, on
    both engines). -#}
{% macro arg_max_value(expression, by) -%}
    {{ return(adapter.dispatch('arg_max_value')(expression, by)) }}
{%- endmacro %}

{% macro default__arg_max_value(expression, by) -%}
    arg_max({{ expression }}, {{ by }})
{%- endmacro %}

{% macro spark__arg_max_value(expression, by) -%}
    max_by({{ expression }}, {{ by }})
{%- endmacro %}


{#- An aggregate: any one non-NULL value of the group (NULL when all are). DuckDB's any_value
    skips NULLs; Spark's does only when asked. -#}
{% macro any_non_null(expression) -%}
    {{ return(adapter.dispatch('any_non_null')(expression)) }}
{%- endmacro %}

{% macro default__any_non_null(expression) -%}
    any_value({{ expression }})
{%- endmacro %}

{% macro spark__any_non_null(expression) -%}
    any_value({{ expression }}, true)
{%- endmacro %}


{#- An empty list of text. -#}
{% macro empty_text_list() -%}
    {{ return(adapter.dispatch('empty_text_list')()) }}
{%- endmacro %}

{% macro default__empty_text_list() -%}
    []
{%- endmacro %}

{% macro spark__empty_text_list() -%}
    cast(array() as array<string>)
{%- endmacro %}


{#- Set-returning, in a select list: one row per integer from first to last (inclusive). -#}
{% macro integer_series(first, last) -%}
    {{ return(adapter.dispatch('integer_series')(first, last)) }}
{%- endmacro %}

{% macro default__integer_series(first, last) -%}
    unnest(range({{ first }}, {{ last }} + 1))
{%- endmacro %}

{% macro spark__integer_series(first, last) -%}
    explode(sequence({{ first }}, {{ last }}))
{%- endmacro %}


{#- Set-returning, in a select list: one row per day (a date) from the first date to the
    day before end_exclusive. Spark allows no expression around a generator: the cast to
    date is part of the DuckDB form. -#}
{% macro day_series(first, end_exclusive) -%}
    {{ return(adapter.dispatch('day_series')(first, end_exclusive)) }}
{%- endmacro %}

{% macro default__day_series(first, end_exclusive) -%}
    cast(unnest(range({{ first }}, {{ end_exclusive }}, interval 1 day)) as date)
{%- endmacro %}

{% macro spark__day_series(first, end_exclusive) -%}
    explode(sequence({{ first }}, date_sub({{ end_exclusive }}, 1), interval 1 day))
{%- endmacro %}


{#- A column type named in YAML (DuckDB's names) as the engine spells it: Spark has
    `string` where DuckDB has `varchar` (a varchar without length does not parse there). -#}
{% macro portable_data_type(data_type) -%}
    {{ return(adapter.dispatch('portable_data_type')(data_type)) }}
{%- endmacro %}

{% macro default__portable_data_type(data_type) -%}
    {{ data_type }}
{%- endmacro %}

{% macro spark__portable_data_type(data_type) -%}
    {{ 'string' if data_type | lower in ('varchar', 'text') else data_type }}
{%- endmacro %}


{#- SHA-256 of a text as 64 lowercase hex digits. -#}
{% macro sha256_hex(expression) -%}
    {{ return(adapter.dispatch('sha256_hex')(expression)) }}
{%- endmacro %}

{% macro default__sha256_hex(expression) -%}
    sha256({{ expression }})
{%- endmacro %}

{% macro spark__sha256_hex(expression) -%}
    sha2({{ expression }}, 256)
{%- endmacro %}


{#- Aggregate: the texts joined by a delimiter (a SQL expression) in the given order. -#}
{% macro ordered_string_agg(expression, delimiter, order_by) -%}
    {{ return(adapter.dispatch('ordered_string_agg')(expression, delimiter, order_by)) }}
{%- endmacro %}

{% macro default__ordered_string_agg(expression, delimiter, order_by) -%}
    string_agg({{ expression }}, {{ delimiter }} order by {{ order_by }})
{%- endmacro %}

{% macro spark__ordered_string_agg(expression, delimiter, order_by) -%}
    listagg({{ expression }}, {{ delimiter }}) within group (order by {{ order_by }})
{%- endmacro %}


{#- The current time as a timestamp without time zone, in UTC. -#}
{% macro utc_now() -%}
    {{ return(adapter.dispatch('utc_now')()) }}
{%- endmacro %}

{% macro default__utc_now() -%}
    cast(now() at time zone 'UTC' as timestamp)
{%- endmacro %}

{% macro spark__utc_now() -%}
    cast(to_utc_timestamp(current_timestamp(), current_timezone()) as timestamp)
{%- endmacro %}


{#- A list of the given values (SQL expressions), in that order; a NULL value stays an element
    on both engines. -#}
{% macro list_of() -%}
    {{ return(adapter.dispatch('list_of')(varargs)) }}
{%- endmacro %}

{% macro default__list_of(elements) -%}
    [{{ elements | join(', ') }}]
{%- endmacro %}

{% macro spark__list_of(elements) -%}
    array({{ elements | join(', ') }})
{%- endmacro %}


{#- The type of a list of text, for a cast (DuckDB varchar[], Spark array<string>). -#}
{% macro text_list_type() -%}
    {{ return(adapter.dispatch('text_list_type')()) }}
{%- endmacro %}

{% macro default__text_list_type() -%}
    varchar []
{%- endmacro %}

{% macro spark__text_list_type() -%}
    array<string>
{%- endmacro %}


{#- A list sorted ascending (no NULL elements in the models' lists). -#}
{% macro sort_list(expression) -%}
    {{ return(adapter.dispatch('sort_list')(expression)) }}
{%- endmacro %}

{% macro default__sort_list(expression) -%}
    list_sort({{ expression }})
{%- endmacro %}

{% macro spark__sort_list(expression) -%}
    array_sort({{ expression }})
{%- endmacro %}


{#- A list with one more element at its end (the element may be NULL; callers pass a non-NULL
    list: Spark's array_append of a NULL list is NULL). -#}
{% macro append_to_list(expression, element) -%}
    {{ return(adapter.dispatch('append_to_list')(expression, element)) }}
{%- endmacro %}

{% macro default__append_to_list(expression, element) -%}
    list_append({{ expression }}, {{ element }})
{%- endmacro %}

{% macro spark__append_to_list(expression, element) -%}
    array_append({{ expression }}, {{ element }})
{%- endmacro %}


{#- An aggregate: the group's values as a list, in no particular order. NULL values: DuckDB's
    list keeps them, Spark's collect_list drops them; callers either have none or drop them
    afterwards (distinct_list, list_to_string). An empty group: DuckDB NULL, Spark an empty
    array (callers aggregate non-empty groups only). -#}
{% macro list_agg(expression) -%}
    {{ return(adapter.dispatch('list_agg')(expression)) }}
{%- endmacro %}

{% macro default__list_agg(expression) -%}
    list({{ expression }})
{%- endmacro %}

{% macro spark__list_agg(expression) -%}
    collect_list({{ expression }})
{%- endmacro %}


{#- An aggregate: the group's values as a list sorted ascending (values are not NULL). -#}
{% macro sorted_list_agg(expression) -%}
    {{ return(adapter.dispatch('sorted_list_agg')(expression)) }}
{%- endmacro %}

{% macro default__sorted_list_agg(expression) -%}
    list({{ expression }} order by {{ expression }})
{%- endmacro %}

{% macro spark__sorted_list_agg(expression) -%}
    array_sort(collect_list({{ expression }}))
{%- endmacro %}


{#- A list without its NULL elements (order kept). -#}
{% macro non_null_elements(expression) -%}
    {{ return(adapter.dispatch('non_null_elements')(expression)) }}
{%- endmacro %}

{% macro default__non_null_elements(expression) -%}
    list_filter({{ expression }}, p -> p is not null)
{%- endmacro %}

{% macro spark__non_null_elements(expression) -%}
    filter({{ expression }}, p -> p is not null)
{%- endmacro %}


{#- An aggregate: x of the row with the smallest v (ties: any of them, on both engines). -#}
{% macro arg_min_value(expression, by) -%}
    {{ return(adapter.dispatch('arg_min_value')(expression, by)) }}
{%- endmacro %}

{% macro default__arg_min_value(expression, by) -%}
    arg_min({{ expression }}, {{ by }})
{%- endmacro %}

{% macro spark__arg_min_value(expression, by) -%}
    min_by({{ expression }}, {{ by }})
{%- endmacro %}


{#- An aggregate: the group's distinct non-NULL texts, sorted ascending, joined by the
    delimiter (a SQL expression); NULL when there is none. Deterministic on both engines
    (DuckDB's string_agg(distinct ...) without order is not). -#}
{% macro sorted_distinct_string_agg(expression, delimiter) -%}
    {{ return(adapter.dispatch('sorted_distinct_string_agg')(expression, delimiter)) }}
{%- endmacro %}

{% macro default__sorted_distinct_string_agg(expression, delimiter) -%}
    string_agg(distinct {{ expression }}, {{ delimiter }} order by {{ expression }})
{%- endmacro %}

{% macro spark__sorted_distinct_string_agg(expression, delimiter) -%}
    case when count({{ expression }}) > 0
        then array_join(array_sort(collect_set({{ expression }})), {{ delimiter }}) end
{%- endmacro %}


{#- dbt's safe_cast on Spark, for unit-test fixtures: dbt-core passes a YAML list value (e.g.
    figure_ids: ['F1']) to safe_cast as a list, which renders as `['F1']`, DuckDB's list
    literal and a syntax error on Spark. This override spells such a list as Spark's
    array('F1') and otherwise does what dbt-spark's spark__safe_cast does. -#}
{% macro spark__safe_cast(field, type) -%}
    {%- if field is iterable and field is not string and field is not mapping -%}
        cast(array(
            {%- for value in field -%}
                {%- if value is none -%} null
                {%- elif value is string -%} {{ dbt.string_literal(dbt.escape_single_quotes(value)) }}
                {%- else -%} {{ value }}
                {%- endif -%}
                {{- ', ' if not loop.last -}}
            {%- endfor -%}
        ) as {{ type }})
    {%- else -%}
        {%- set complex_type = type.lower().startswith('struct') or type.lower().startswith('array')
            or type.lower().startswith('map') -%}
        {%- set field_clean = field.strip('"').strip("'") if (complex_type and field is string) else field -%}
        cast({{ field_clean }} as {{ type }})
    {%- endif -%}
{%- endmacro %}
