import numpy as np
import pytest

from bench.protocol.metrics import scores


def test_wa_ua_f1_by_hand():
    truth = np.array([0, 0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 0, 0, 1, 1, 0, 2])
    result = scores(truth, predicted, 4)  # class 3 absent: it has no recall to average
    assert result["wa"] == pytest.approx(5 / 7)
    assert result["ua"] == pytest.approx((3 / 4 + 1 / 2 + 1) / 3)
    f1_0 = 2 * (3 / 4) * (3 / 4) / (3 / 4 + 3 / 4)
    f1_1 = 2 * (1 / 2) * (1 / 2) / 1
    assert result["f1"] == pytest.approx((f1_0 + f1_1 + 1.0) / 3)
    assert result["confusion"][0] == [3, 1, 0, 0]
    assert np.array(result["confusion"]).sum() == 7
