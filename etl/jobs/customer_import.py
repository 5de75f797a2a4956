"""customer_import: bronze `customers/*.csv` (daily schedule) -> silver `customers`.

Latest rule: one row per customer_id; within a run the later source object wins, then the
later line in the file; against silver, the run being processed wins.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, StringType, StructField, StructType

from etl import quality as q
from etl.base import ROW_SEQ
from etl.job import BaseGlueJob
from etl.readers import CsvSource, string_schema
from etl.transforms import LINEAGE_FIELDS, blank_to_null, latest_per_key, try_cast

CUSTOMERS_BRONZE_COLUMNS = ("customer_id", "full_name", "email", "country_code", "signup_date")
CUSTOMERS_BRONZE_SCHEMA = string_schema(CUSTOMERS_BRONZE_COLUMNS)
CUSTOMERS_SILVER_SCHEMA = StructType(
    [
        StructField("customer_id", StringType(), True),
        StructField("full_name", StringType(), True),
        StructField("email", StringType(), True),
        StructField("country_code", StringType(), True),
        StructField("signup_date", DateType(), True),
        *LINEAGE_FIELDS,
    ]
)

# Plausible, not RFC 5322: one @, no spaces, a dot in the domain.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$"

ISO_3166_ALPHA2 = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
    DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
    GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
    KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
    MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
    VN VU WF WS YE YT ZA ZM ZW
    """.split()
)


def type_customers(df: DataFrame) -> DataFrame:
    return df.select(
        blank_to_null("customer_id").alias("customer_id"),
        blank_to_null("full_name").alias("full_name"),
        F.lower(blank_to_null("email")).alias("email"),
        F.upper(blank_to_null("country_code")).alias("country_code"),
        try_cast("signup_date", "date").alias("signup_date"),
        "_source_key",
        ROW_SEQ,
    )


def latest_customers(df: DataFrame) -> DataFrame:
    return latest_per_key(df, ["customer_id"], ["_source_key", ROW_SEQ]).drop(ROW_SEQ)


def customers_raw_rules() -> list[q.Rule]:
    return [*q.columns_present(CUSTOMERS_BRONZE_COLUMNS), q.row_count_at_least(1)]


def customers_quality_rules() -> list[q.Rule]:
    return [
        q.not_null("customer_id"),
        q.not_null("email"),
        q.matches_regex("email", EMAIL_PATTERN, name="email_plausible"),
        q.not_null("country_code"),
        q.in_set("country_code", sorted(ISO_3166_ALPHA2), name="country_code_iso_3166"),
        q.not_null("signup_date", name="signup_date_parses"),
        q.not_null("full_name", action=q.Action.WARN),
    ]


class CustomerImport(CsvSource, BaseGlueJob):
    bronze_columns = CUSTOMERS_BRONZE_COLUMNS
    name = "customer_import"
    dataset = "customers"
    layer = "silver"
    default_source_prefix = "customers/"
    default_source_suffix = ".csv"
    schema = CUSTOMERS_SILVER_SCHEMA
    key_columns = ("customer_id",)
    partition_columns = ()
    latest_order = ("_origin", "_source_key")

    def transform(self, df: DataFrame) -> DataFrame:
        return latest_customers(type_customers(df))

    def raw_rules(self) -> list[q.Rule]:
        return customers_raw_rules()

    def quality_rules(self) -> list[q.Rule]:
        return customers_quality_rules()
