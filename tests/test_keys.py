"""runner.keys: where a misplaced key lives in the config."""

from __future__ import annotations

from runner.config import compose
from runner.keys import config_keys, elsewhere


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
