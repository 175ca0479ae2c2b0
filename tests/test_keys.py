"""runner.keys: where a misplaced key lives in the config."""

from __future__ import annotations

from runner.config import CONF_DIR, SCHEMAS, compose
from runner.keys import config_keys, elsewhere, other_options


def test_a_key_is_found_by_its_name_or_another_tools_name_for_it_in_one_place_only():
    cfg = compose(["aug=flip"])
    keys = list(config_keys(cfg))
    assert "trainer.optimizer.learning_rate" in keys and "aug.ops.flip._target_" in keys
    assert not any(key.startswith("hydra") for key in keys)
    assert elsewhere("data.epochs", cfg) == " Did you mean 'trainer.epochs'?"
    assert elsewhere("lr", cfg) == " Did you mean 'trainer.optimizer.learning_rate'?"
    assert elsewhere("trainer.bs", cfg) == " Did you mean 'data.batch_size'?"
    assert elsewhere("trainer.epochs", cfg) == ""  # where it is: nothing else to offer
    assert elsewhere("model.zebra", cfg) == ""  # nowhere
    assert elsewhere("trainer._target_", cfg) == ""  # in several places: no one guess
    # A key of another option of its group: that option, ahead of the same name in another group.
    assert elsewhere("model.path", cfg).startswith(" It is a key of model=file: choose it")
    assert other_options("model.name") == ["model=application"]
    assert other_options("data.fn") == ["data=generator"]
    assert other_options("model.zebra") == [] and other_options("trainer.zebra") == []


def test_each_option_of_a_group_extends_the_schema_its_name_says():
    """other_options names an option by its schema's name, ``<group>_<option>``."""
    for stored in SCHEMAS:
        group, _, option = stored.partition("_")
        if option:
            yaml = (CONF_DIR / group / f"{option}.yaml").read_text()
            assert f"- /{stored}_schema@_here_" in yaml, stored
