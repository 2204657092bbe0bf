"""The row rules of the microdata layout and their SQL: how a file is read in the layout's
types (with a flag per cell that does not fit) and which rows each rule marks as bad."""

from __future__ import annotations

from chengyu_cluster.inputs.reader import sql_text
from chengyu_cluster.microdata.credit_codes import USCC_ALPHABET, uscc_check_sql
from chengyu_cluster.microdata.listing import MicrodataFile

# How far a year-to-date value may fall from the previous report of the year (a revision): the
# tolerance of the ytd_non_decreasing tests in models/staging/microdata/_microdata__models.yml,
# which keep the invariant in the build (tests/unit/test_microdata_store.py checks both agree).
YTD_TOLERANCE = 0.01


# Province-level prefixes of GB/T 2260 (the first two digits of a county code).
PROVINCES = {
    "11",
    "12",
    "13",
    "14",
    "15",
    "21",
    "22",
    "23",
    "31",
    "32",
    "33",
    "34",
    "35",
    "36",
    "37",
    "41",
    "42",
    "43",
    "44",
    "45",
    "46",
    "50",
    "51",
    "52",
    "53",
    "54",
    "61",
    "62",
    "63",
    "64",
    "65",
    "71",
    "81",
    "82",
}
# Text rules for CSV cells, the same dialect as the input reader (inputs.py).
TEXT_PATTERNS = {
    "date": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    "integer": r"^[+-]?[0-9]+$",
    "bigint": r"^[+-]?[0-9]+$",
    "double": r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$",
    "decimal(18,2)": r"^[+-]?([0-9]+(\.[0-9]{0,2})?|\.[0-9]{1,2})$",
    "boolean": r"^(true|false|TRUE|FALSE|True|False)$",
}
EXPECTED_TEXT = {
    "date": "a date written YYYY-MM-DD",
    "integer": "a whole number in ASCII digits",
    "bigint": "a whole number in ASCII digits",
    "double": "a number in ASCII digits (like 1200 or -3.5)",
    "decimal(18,2)": "an amount in yuan with at most two decimals (like 1200.50)",
    "boolean": "true or false",
}


def typed_select(f: MicrodataFile, columns: dict[str, str], present: dict[str, str]) -> str:
    """SELECT of one file in the layout's types, with _file, _row and _bad_<column> flags.

    A CSV cell must match the dialect's text pattern before it is cast; a Parquet value must
    cast. A missing optional column is NULL.
    """
    path = sql_text(str(f.checked_path))
    parts = [f"{sql_text(f.display)} as _file"]
    if f.fmt == "parquet":
        source = f"read_parquet({path}, file_row_number = true)"
        parts.append("file_row_number + 1 as _row")
    else:
        names = ", ".join(f"{sql_text(n)}: 'varchar'" for n in present)
        source = (
            f"(select *, row_number() over () + 1 as file_line from read_csv({path}, header = true, "
            f"delim = ',', quote = '\"', escape = '\"', all_varchar = true, auto_detect = false, "
            f"columns = {{{names}}}))"
        )
        parts.append("file_line as _row")
    for name, target in columns.items():
        q = f'"{name}"'
        if name not in present:
            parts += [f"cast(null as {target}) as {q}", f'false as "_bad_{name}"', f'null::varchar as "_raw_{name}"']
            continue
        if f.fmt == "csv":
            text = f"nullif(trim({q}), '')"
            if target == "varchar":
                parts += [f"{text} as {q}", f'false as "_bad_{name}"', f'{text} as "_raw_{name}"']
            else:
                pattern = TEXT_PATTERNS[target]
                parts += [
                    f"case when regexp_full_match({text}, {sql_text(pattern)}) "
                    f"then try_cast({text} as {target}) end as {q}",
                    f"({text} is not null and (not regexp_full_match({text}, {sql_text(pattern)}) "
                    f'or try_cast({text} as {target}) is null)) as "_bad_{name}"',
                    f'{text} as "_raw_{name}"',
                ]
        elif present[name] == target:
            parts += [f"{q}", f'false as "_bad_{name}"', f'null::varchar as "_raw_{name}"']
        else:
            parts += [
                f"try_cast({q} as {target}) as {q}",
                f'({q} is not null and try_cast({q} as {target}) is null) as "_bad_{name}"',
                f'cast({q} as varchar) as "_raw_{name}"',
            ]
    return f"select {', '.join(parts)} from {source}"


def store_select(f: MicrodataFile, columns: dict[str, str]) -> str:
    """SELECT of a stored (already checked, typed) file with _file and _row."""
    cols = ", ".join(f'"{c}"' for c in columns)
    return (
        f"select {sql_text(f.display)} as _file, file_row_number + 1 as _row, {cols} "
        f"from read_parquet({sql_text(str(f.store_file))}, file_row_number = true)"
    )


# ---- rules ------------------------------------------------------------------------------------


def empty_select(columns: dict[str, str]) -> str:
    parts = ["cast(null as varchar) as _file", "cast(null as bigint) as _row"]
    for name, target in columns.items():
        parts += [f'cast(null as {target}) as "{name}"', f'false as "_bad_{name}"', f'null::varchar as "_raw_{name}"']
    return f"select {', '.join(parts)} where false"


def code_ok(expr: str) -> str:
    """SQL: the credit code in `expr` has 18 characters of the alphabet, digits at 3-8, the right check."""
    return (
        f"(regexp_full_match({expr}, '[{USCC_ALPHABET}]{{2}}[0-9]{{6}}[{USCC_ALPHABET}]{{10}}') "
        f"and right({expr}, 1) = {uscc_check_sql(expr)})"
    )


def _county_ok(expr: str) -> str:
    provinces = ", ".join(sql_text(p) for p in sorted(PROVINCES))
    return (
        f"(regexp_full_match({expr}, '[0-9]{{6}}') and left({expr}, 2) in ({provinces}) and right({expr}, 2) <> '00')"
    )


def _not_null(c: str, what: str) -> tuple[str, str, str, str]:
    return c, "not_empty", f'"{c}" is null and not "_bad_{c}"', sql_text(f"{what} is empty")


BASIS_RULE = (
    "basis",
    "accepted_values",
    "basis is not null and basis not in ('reported', 'synthetic')",
    "'basis ''' || basis || ''' is not reported or synthetic'",
)
# Per table: (column, rule, condition that marks a bad row, SQL message), checked on every new row.
ROW_RULES = {
    "enterprises": [
        _not_null("credit_code", "the credit code"),
        _not_null("area_code", "the area code"),
        _not_null("industry_class", "the industry class"),
        _not_null("above_scale", "the above-scale flag"),
        _not_null("opened_on", "the opening date"),
        _not_null("record_date", "the record date"),
        (
            "area_code",
            "county_code",
            f"area_code is not null and not {_county_ok('area_code')}",
            "'''' || area_code || ''' is not a GB/T 2260 county-level code (six digits of a known province, "
            "not ending in 00)'",
        ),
        (
            "industry_class",
            "industry_class",
            "industry_class is not null and not regexp_full_match(industry_class, '[A-T][0-9]{4}')",
            "'''' || industry_class || ''' is not a GB/T 4754-2017 class (section letter and four digits, like C3670)'",
        ),
        (
            "closed_on",
            "closed_after_opened",
            "closed_on < opened_on",
            "'closed on ' || closed_on || ', before it opened on ' || opened_on",
        ),
        (
            "record_date",
            "record_after_opening",
            "record_date < opened_on",
            "'record date ' || record_date || ' is before the opening date ' || opened_on",
        ),
        BASIS_RULE,
    ],
    "enterprise_month": [
        _not_null("credit_code", "the credit code"),
        _not_null("report_month", "the report month"),
        _not_null("value_kind", "the value kind"),
        _not_null("gross_output_yuan", "the gross output"),
        (
            "report_month",
            "first_of_month",
            "day(report_month) <> 1",
            "'report month ' || report_month || ' is not the first day of a month'",
        ),
        (
            "value_kind",
            "accepted_values",
            "value_kind not in ('ytd', 'month')",
            "'value kind ''' || value_kind || ''' is not ytd or month'",
        ),
        (
            "gross_output_yuan",
            "non_negative",
            "gross_output_yuan < 0",
            "'gross output ' || gross_output_yuan || ' is negative'",
        ),
        ("revenue_yuan", "non_negative", "revenue_yuan < 0", "'revenue ' || revenue_yuan || ' is negative'"),
        ("employees", "non_negative", "employees < 0", "'employees ' || employees || ' is negative'"),
        BASIS_RULE,
    ],
    "supply_invoices": [
        _not_null("invoice_id", "the invoice id"),
        _not_null("seller_code", "the seller's credit code"),
        _not_null("buyer_code", "the buyer's credit code"),
        _not_null("issue_date", "the issue date"),
        _not_null("amount_yuan", "the amount"),
        _not_null("tax_yuan", "the tax"),
        (
            "buyer_code",
            "seller_is_not_buyer",
            "seller_code = buyer_code",
            "'seller and buyer are the same enterprise ' || seller_code",
        ),
        (
            "amount_yuan",
            "ordinary_non_negative",
            "original_invoice_id is null and amount_yuan < 0",
            "'amount ' || amount_yuan || ' is negative: a red-letter invoice must name the invoice it cancels "
            "(original_invoice_id)'",
        ),
        (
            "amount_yuan",
            "red_letter_negative",
            "original_invoice_id is not null and amount_yuan >= 0",
            "'a red-letter invoice (it names ' || original_invoice_id || ') must have a negative amount, not ' "
            "|| amount_yuan",
        ),
        (
            "tax_yuan",
            "tax_sign",
            "sign(tax_yuan) * sign(amount_yuan) < 0",
            "'tax ' || tax_yuan || ' and amount ' || amount_yuan || ' have opposite signs'",
        ),
        BASIS_RULE,
    ],
}


def row_rules(table: str) -> list[tuple[str, str, str, str]]:
    """(column, rule, condition that marks a bad row, SQL message) checked on every new row."""
    return ROW_RULES[table]
