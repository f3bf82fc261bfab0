"""`carepath dev` takes its ports from the flags, else from the settings."""

from __future__ import annotations

from cli.main import build_parser, dev_options
from config.settings import Settings


def test_the_codec_and_api_ports_follow_the_settings_unless_a_flag_names_one() -> None:
    settings = Settings(codec_port=9345, api_port=9346)
    from_settings = dev_options(build_parser().parse_args(["dev"]), settings)
    assert (from_settings.codec_port, from_settings.api_port) == (9345, 9346)
    flagged = dev_options(build_parser().parse_args(["dev", "--codec-port", "9400"]), settings)
    assert (flagged.codec_port, flagged.api_port) == (9400, 9346)
