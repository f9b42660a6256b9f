"""Config validation: defaults from the schema, errors that name the key."""

from pathlib import Path

import pytest
import yaml

from neuroalign.config import ConfigError, config_schema, load_config, validate_config

REPO = Path(__file__).resolve().parents[1]


def test_only_dataset_is_valid_and_defaults_are_filled():
    cfg = validate_config({"dataset": {"root": "somewhere"}})
    assert cfg["dataset"]["root"] == "somewhere"
    assert cfg["dataset"]["format"] == "braintreebank"
    assert cfg["preprocessing"]["reference"] == "laplacian"
    assert cfg["events"]["alignments"] == ["language", "vision"]
    assert cfg["encoding"]["alphas"][0] == 0.1
    assert cfg["seed"] == 0


def test_empty_config_is_valid():
    assert validate_config(None)["results"] == "results"


def test_misspelled_key_names_key_and_closest():
    with pytest.raises(ConfigError, match=r"unknown key 'preprocesing'.*did you mean 'preprocessing'"):
        validate_config({"preprocesing": {}}, source="my.yaml")
    with pytest.raises(ConfigError, match=r"my.yaml: unknown key 'refrence' in preprocessing"):
        validate_config({"preprocessing": {"refrence": "car"}}, source="my.yaml")


def test_bad_value_lists_allowed():
    with pytest.raises(ConfigError, match=r"'laplace'.*preprocessing.reference.*'laplacian'"):
        validate_config({"preprocessing": {"reference": "laplace"}})
    with pytest.raises(ConfigError, match="tmax"):
        validate_config({"preprocessing": {"tmin": 1.0, "tmax": 0.0}})


def test_repo_config_is_valid(tmp_path):
    cfg = load_config(REPO / "config.yaml")
    assert cfg["dataset"]["root"] == "data/sim"
    bad = tmp_path / "bad.yaml"
    bad.write_text("dataset: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_config(bad)
    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        load_config(tmp_path / "missing.yaml")


def test_workflow_schema_is_the_package_schema():
    on_disk = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    assert on_disk == config_schema()


def _keys(props, prefix=""):
    for key, sub in props.items():
        yield prefix + key
        if "properties" in sub:
            yield from _keys(sub["properties"], prefix + key + ".")
        items = sub.get("items")
        if isinstance(items, dict) and "properties" in items:
            yield from _keys(items["properties"], prefix + key + "[].")


def test_every_schema_key_has_description_default_and_readme_entry():
    schema = config_schema()
    readme = (REPO / "README.md").read_text()
    for key in _keys(schema["properties"]):
        assert f"`{key}`" in readme, f"config key {key} is not documented in README.md"
    for key, sub in schema["properties"].items():
        assert "description" in sub and "default" in sub, key


def test_example_configs_are_valid_and_name_registered_models():
    from neuroalign.features import get_model

    for path in sorted((REPO / "config").glob("*.yaml")) + [REPO / "config.yaml"]:
        cfg = load_config(path)
        for entry in cfg["models"]:
            get_model(entry["name"])  # raises for an unknown model
        for key in ("vision_models", "language_models", "multimodal_models"):
            for name in cfg["sites"][key]:
                get_model(name)


def test_config_hash_ignores_the_subject_selection_only():
    from neuroalign.config import config_hash

    base = validate_config({"dataset": {"root": "somewhere"}})
    one = validate_config({"dataset": {"root": "somewhere", "subjects": ["sub_1"]}})
    other_root = validate_config({"dataset": {"root": "elsewhere"}})
    # Which subjects a run selects does not change a subject's outputs, nor their provenance.
    assert config_hash(base, ["dataset"]) == config_hash(one, ["dataset"])
    assert config_hash(base) == config_hash(one)
    assert config_hash(base, ["dataset"]) != config_hash(other_root, ["dataset"])
    assert one["dataset"]["subjects"] == ["sub_1"]  # the config itself is not modified
