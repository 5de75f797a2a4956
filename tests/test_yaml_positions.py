"""Line and column of a config key, from the YAML text itself."""

from data_platform.yaml_positions import Position, YamlPositions, path_parts

TEXT = """\
config:
  aws:region: eu-west-1
  data-lake:platform:
    jobs:
      sales_etl:
        schedule: "cron(0 2 * * ? *)"
    s3_rules:
      sales_landed:
        filters:
          - prefix: sales/
          - suffix: .csv
"""


def test_a_key_is_found_at_its_line_and_column():
    positions = YamlPositions(TEXT)
    assert positions.find("config.data-lake:platform.jobs.sales_etl.schedule") == Position(6, 9)
    assert positions.find("config.aws:region") == Position(2, 3)


def test_list_items_are_found_by_index():
    assert YamlPositions(TEXT).find("config.data-lake:platform.s3_rules.sales_landed.filters[1]") == Position(11, 13)


def test_a_missing_key_points_at_the_deepest_key_that_exists():
    assert YamlPositions(TEXT).find("config.data-lake:platform.jobs.sales_etl.glue_version") == Position(5, 7)
    assert YamlPositions(TEXT).find("nothing.here") is None


def test_paths_are_split_into_keys_and_indexes():
    assert path_parts("config.data-lake:platform.rules[3].x") == ["config", "data-lake:platform", "rules", 3, "x"]
