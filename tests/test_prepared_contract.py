"""The prepared-data contract is defined once (common/prepared_contract.py and
prepared-meta.schema.json) and both sides hold to it: what prepare writes is what training
opens, and a meta.json that breaks the schema is refused by name."""
import json

import numpy as np
import pytest

from alexbench.common import prepared, prepared_contract
from alexbench.data.synthetic import synthesize
from alexbench.data.prepare import DatasetSpec, prepare

MNIST = DatasetSpec((28, 28, 1), 10)  # as config.yaml declares it


def test_prepare_writes_exactly_the_contract_s_files(tmp_path):
    synthesize("mnist", "idx", tmp_path / "downloads", seed=0, train_count=64, test_count=32)
    meta = prepare("mnist", "idx", tmp_path / "downloads", tmp_path / "prepared", MNIST)
    assert sorted(p.name for p in (tmp_path / "prepared").iterdir()) == sorted(prepared_contract.FILES)
    assert prepared_contract.FILES[-1] == prepared_contract.META_FILE
    assert prepared_contract.meta_problems(meta) == []
    data = prepared.open_prepared(tmp_path / "prepared")
    assert data.num_classes == 10 and data.train.images.dtype == np.uint8


@pytest.mark.parametrize("change, named", [
    (lambda m: m.pop("image_shape"), "$.image_shape: required field is missing"),
    (lambda m: m.update(format="png"), "$.format: 'png' is not one of"),
    (lambda m: m.update(extra=1), "$.extra: unexpected field"),
])
def test_a_meta_json_breaking_the_schema_is_refused_by_name(tmp_path, change, named):
    synthesize("mnist", "idx", tmp_path / "downloads", seed=0, train_count=64, test_count=32)
    prepare("mnist", "idx", tmp_path / "downloads", tmp_path / "prepared", MNIST)
    meta_path = tmp_path / "prepared" / "meta.json"
    meta = json.loads(meta_path.read_text())
    change(meta)
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(prepared.PreparedDataError) as error:
        prepared.open_prepared(tmp_path / "prepared")
    assert str(meta_path) in str(error.value) and named in str(error.value)
