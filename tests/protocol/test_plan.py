"""Methods own their settings: `--set <method>.<field>` checked by the method's model before any work."""

from __future__ import annotations

import pytest

from bench.config.settings import RunConfig, SettingError
from bench.methods.selm import Selm, SelmSettings
from bench.protocol.plan import check_method_settings


def config_with(**values) -> RunConfig:
    config = RunConfig()
    config.apply(values)
    return config


def test_a_method_reads_its_own_settings_with_its_defaults_where_none_is_given():
    assert Selm().own_settings(RunConfig()) == SelmSettings()
    config = config_with(**{"selm.epochs": "3", "selm.mapper": "mlp"})
    check_method_settings(config)
    own = Selm().own_settings(config)
    assert (own.epochs, own.mapper, own.lr) == (3, "mlp", SelmSettings().lr)
    assert config.method_settings == {"selm": {"epochs": 3, "mapper": "mlp"}}  # as the model reads them
    assert config.get("selm.epochs") == 3 and config.get("selm.lr") is None  # a default stays unset


@pytest.mark.parametrize(
    "values, message",
    [
        ({"selm.epochs": "0"}, "setting selm.epochs=0: input should be greater than or equal to 1"),
        ({"selm.mapper": "rnn"}, "setting selm.mapper=rnn: input should be 'transformer' or 'mlp'"),
        ({"selm.epoch": "3"}, "setting selm.epoch=3: not a setting"),
        ({"zero-shot.k": "3"}, "unknown setting 'zero-shot.k': method zero-shot has no settings of its own"),
    ],
)
def test_a_bad_method_setting_is_one_line_before_any_work(values, message):
    with pytest.raises(SettingError) as err:
        check_method_settings(config_with(**values))
    assert str(err.value) == message


def test_a_setting_of_no_installed_method_names_the_settings_there_are():
    with pytest.raises(SettingError) as err:
        check_method_settings(config_with(**{"slem.epochs": "3"}))
    assert str(err.value).startswith("unknown setting 'slem.epochs' (settings: backbone, dataset,")
    assert str(err.value).endswith("or METHOD.FIELD for a method's own, and no method 'slem' is installed)")


def test_records_and_files_from_before_methods_owned_settings_still_read():
    config = config_with(selm_settings={"epochs": 4, "lr": 0.01})  # a record's config before API 1.0
    assert Selm().own_settings(config).epochs == 4 and config.method_settings == {"selm": {"epochs": 4, "lr": 0.01}}
