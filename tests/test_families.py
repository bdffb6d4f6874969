"""The family list is written once (`keras_dense._families`): every record's family is a
module of `keras_dense.models`, and `keras-dense list --family F` finds each family."""

import importlib

import pytest
from conftest import run_cli

import keras_dense
from keras_dense import _families, models
from keras_dense.analysis import tables
from keras_dense.cli import main
from keras_dense.models import _registry
from keras_dense.weights import torchvision


def test_every_record_family_is_its_module_and_in_the_tuple():
    records = _registry.model_records()
    for record in records:
        assert record.family in _families.FAMILIES, record.name
        assert type(record.config).__module__ == f"keras_dense.models.{record.family}"
    assert {record.family for record in records} == set(_families.FAMILIES)


def test_the_other_family_lists_are_derived_from_the_tuple():
    assert models.FAMILIES is _families.FAMILIES
    assert _registry.FAMILY_MODULES == tuple(f"keras_dense.models.{f}" for f in _families.FAMILIES)
    assert tables.FAMILY_TITLES is _families.FAMILY_TITLES
    assert set(torchvision.LAYOUTS) <= set(_families.FAMILIES)
    assert set(_families.FAMILY_ALIASES.values()) <= set(_families.FAMILIES)
    for family in _families.FAMILIES:
        assert getattr(models, family) is importlib.import_module(f"keras_dense.models.{family}")


@pytest.mark.parametrize("family", [*_families.FAMILIES, *_families.FAMILY_ALIASES])
def test_list_family_finds_the_models_of_every_family(family, capsys):
    names = keras_dense.list_models(family=family)
    assert names and all(
        keras_dense.model_record(n).family == _families.family_name(family) for n in names
    )
    assert main(["list", "--family", family]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()[2:]]
    assert listed == names


def test_list_family_inception_v3_as_a_user_runs_it():
    result = run_cli("list", "--family", "inception_v3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[2].startswith("inception_v3 ")


def test_an_unknown_family_lists_nothing():
    assert keras_dense.list_models(family="inception_v4") == []


def test_torchvision_conversion_takes_the_family_or_its_alias():
    for family in ("inception_v3", "inception"):
        assert torchvision.LAYOUTS[_families.family_name(family)].classifier == "fc"
