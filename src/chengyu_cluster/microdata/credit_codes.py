"""Chinese enterprise identifiers: the unified social credit code (GB 32100-2015) and the
organisation code inside it (GB 11714-1997), their check characters in Python and as DuckDB
SQL. The microdata checks (microdata/checks.py) verify them; the synthetic generator
(synth/generator.py) writes valid ones.
"""

from __future__ import annotations

# The code's character set: digits and capital letters without I, O, S, V and Z.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# Weight of the i-th character (i = 1..17): 3^(i-1) mod 31.
USCC_WEIGHTS = [pow(3, i, 31) for i in range(17)]


def uscc_check_char(body: str) -> str:
    """The 18th character of a unified social credit code from its first 17.

    C18 = 31 - MOD(sum(C_i * W_i), 31), and 31 becomes 0 (GB 32100-2015, section 4.2).
    """
    if len(body) != 17:
        raise ValueError("a credit code body has 17 characters")
    total = sum(USCC_ALPHABET.index(ch) * w for ch, w in zip(body, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def is_valid_uscc(code: str) -> bool:
    """18 characters of the code's alphabet, positions 3-8 digits, and a right check character."""
    if not isinstance(code, str) or len(code) != 18 or any(ch not in USCC_ALPHABET for ch in code):
        return False
    if not code[2:8].isdigit():
        return False
    return uscc_check_char(code[:17]) == code[17]


# GB 11714-1997: the organisation code's ninth character from its first eight.
ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]


def org_check_char(body: str) -> str:
    """C9 = 11 - MOD(sum(C_i * W_i), 11); 10 is written X and 11 is written 0."""
    total = sum(int(ch, 36) * w for ch, w in zip(body, ORG_WEIGHTS, strict=False))
    value = 11 - total % 11
    return "X" if value == 10 else "0" if value == 11 else str(value)


def uscc_check_sql(body: str) -> str:
    """A DuckDB expression: the GB 32100 check character of the 17-character text `body`."""
    weights = ", ".join(map(str, USCC_WEIGHTS))
    return (
        f"substr('{USCC_ALPHABET}', (31 - list_sum(list_transform(range(17), "
        f"p -> (strpos('{USCC_ALPHABET}', substr({body}, p + 1, 1)) - 1) * [{weights}][p + 1]))::bigint % 31) "
        f"% 31 + 1, 1)"
    )


def org_check_sql(digits8: str) -> str:
    """A DuckDB expression: the GB 11714 check character of an eight-digit text."""
    weights = ", ".join(map(str, ORG_WEIGHTS))
    value = (
        f"(11 - list_sum(list_transform(range(8), p -> substr({digits8}, p + 1, 1)::int "
        f"* [{weights}][p + 1]))::bigint % 11)"
    )
    return f"(case {value} when 10 then 'X' when 11 then '0' else {value}::varchar end)"
