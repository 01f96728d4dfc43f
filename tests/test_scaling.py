"""Tests of pyro_causalmmm.data.scaling: the reversible per-shop maps."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pyro_causalmmm.data.scaling import TARGET_HIGH, TARGET_LOW, Scaling, fit_scaling
from pyro_causalmmm.errors import DataValidationError, ModelFileError


def _panel(seed: int = 0, shops: int = 3, time: int = 12, nodes: int = 4, context: int = 2):
    """Random positive data ``(shop, time, node)``, a ragged mask and context."""
    rng = np.random.default_rng(seed)
    values = rng.gamma(2.0, 50.0, size=(shops, time, nodes)) * rng.uniform(1, 100, (shops, 1, 1))
    lengths = np.array([time, time - 3, time - 5])[:shops]
    mask = np.arange(time)[None, :] < lengths[:, None]
    values = np.where(mask[:, :, None], values, 0.0)
    ctx = rng.normal(10.0, 3.0, size=(shops, time, context))
    return values, mask, ctx


def test_round_trip_is_exact_to_1e10():
    values, mask, ctx = _panel()
    scaling = fit_scaling(values, mask, target_index=-1, context=ctx)
    back = scaling.inverse(scaling.transform(values))
    np.testing.assert_allclose(back, values, rtol=1e-10, atol=0)
    np.testing.assert_allclose(
        scaling.inverse_context(scaling.transform_context(ctx)), ctx, rtol=1e-10
    )


def test_round_trip_with_leading_draw_dims():
    values, mask, ctx = _panel()
    scaling = fit_scaling(values, mask, 3, context=ctx)
    draws = np.stack([values, 2 * values])[None]  # (1, draw, shop, time, node)
    np.testing.assert_allclose(scaling.inverse(scaling.transform(draws)), draws, rtol=1e-10)
    assert scaling.transform(draws).shape == draws.shape


def test_channels_are_z_scored_per_shop_over_observed_steps():
    values, mask, ctx = _panel()
    scaled = fit_scaling(values, mask, 3, context=ctx).transform(values)
    for s in range(values.shape[0]):
        observed = scaled[s, mask[s], :3]
        np.testing.assert_allclose(observed.mean(axis=0), 0.0, atol=1e-12)
        np.testing.assert_allclose(observed.std(axis=0), 1.0, rtol=1e-12)


def test_target_maps_to_0_1_to_0_9_per_shop():
    values, mask, ctx = _panel()
    scaling = fit_scaling(values, mask, 3, context=ctx)
    scaled = scaling.transform(values)
    for s in range(values.shape[0]):
        target = scaled[s, mask[s], 3]
        assert target.min() == pytest.approx(TARGET_LOW, abs=1e-12)
        assert target.max() == pytest.approx(TARGET_HIGH, abs=1e-12)
    low = values[0, :, 3].min()
    high = values[0, :, 3].max()
    assert scaling.loc[0, 3] == pytest.approx(low - 0.125 * (high - low))
    assert scaling.scale[0, 3] == pytest.approx(1.25 * (high - low))


def test_padded_steps_do_not_change_the_fit():
    values, mask, ctx = _panel()
    garbage = np.where(mask[:, :, None], values, 1e9)
    a = fit_scaling(values, mask, 3, context=ctx)
    b = fit_scaling(garbage, mask, 3, context=np.where(mask[:, :, None], ctx, -1e9))
    np.testing.assert_array_equal(a.loc, b.loc)
    np.testing.assert_array_equal(a.scale, b.scale)
    np.testing.assert_array_equal(a.context_loc, b.context_loc)


def test_constant_channel_maps_to_exact_zeros():
    values, mask, _ = _panel()
    values[:, :, 1] = 0.1  # 0.1 is not exact in binary: a mean would round
    scaling = fit_scaling(values, mask, 3)
    assert np.all(scaling.scale[:, 1] == 1.0)
    scaled = scaling.transform(values)[:, :, 1]
    assert np.all(scaled[mask] == 0.0)


def test_context_is_pooled_over_shops_and_constant_context_gets_scale_1():
    values, mask, ctx = _panel()
    ctx[:, :, 1] = 7.0
    scaling = fit_scaling(values, mask, 3, context=ctx)
    pooled = ctx[mask]
    assert scaling.context_loc[0] == pytest.approx(pooled[:, 0].mean())
    assert scaling.context_scale[0] == pytest.approx(pooled[:, 0].std())
    assert scaling.context_scale[1] == 1.0
    assert np.all(scaling.transform_context(ctx)[..., 1] == 0.0)


def test_no_context_gives_empty_context_maps():
    values, mask, _ = _panel()
    scaling = fit_scaling(values, mask, 3)
    assert scaling.context_loc.shape == (0,)
    assert scaling.transform_context(np.zeros((3, 12, 0))).shape == (3, 12, 0)


def test_inverse_node_matches_inverse():
    values, mask, ctx = _panel()
    scaling = fit_scaling(values, mask, 3, context=ctx)
    scaled = scaling.transform(values)
    draws = np.stack([scaled[..., 3], scaled[..., 3] + 0.1])  # (draw, shop, time)
    out = scaling.inverse_node(draws, 3)
    np.testing.assert_allclose(out[0], values[..., 3], rtol=1e-10)
    np.testing.assert_allclose(scaling.transform_node(out, 3), draws, rtol=1e-10, atol=1e-12)


def test_constant_target_in_a_shop_is_an_error():
    values, mask, _ = _panel()
    values[1, :, 3] = 5.0
    with pytest.raises(DataValidationError, match="shop index 1.*constant"):
        fit_scaling(values, mask, 3)


def test_shop_without_observed_steps_is_an_error():
    values, mask, _ = _panel()
    mask[2] = False
    with pytest.raises(DataValidationError, match="shop index 2"):
        fit_scaling(values, mask, 3)


def test_bad_shapes_are_errors():
    values, mask, _ = _panel()
    with pytest.raises(DataValidationError, match="shop, time"):
        fit_scaling(values[0], mask, 3)
    with pytest.raises(DataValidationError, match="target_index"):
        fit_scaling(values, mask, 4)
    with pytest.raises(DataValidationError, match="context"):
        fit_scaling(values, mask, 3, context=np.zeros((3, 5, 1)))


def test_to_dict_is_json_and_round_trips_exactly():
    values, mask, ctx = _panel()
    scaling = fit_scaling(values, mask, 3, context=ctx)
    restored = Scaling.from_dict(json.loads(json.dumps(scaling.to_dict())))
    for name in ("loc", "scale", "context_loc", "context_scale"):
        np.testing.assert_array_equal(getattr(restored, name), getattr(scaling, name))


def test_from_dict_with_missing_key_is_a_model_file_error():
    with pytest.raises(ModelFileError, match="context_scale"):
        Scaling.from_dict({"loc": [[0.0]], "scale": [[1.0]], "context_loc": []})


def test_scaling_is_frozen_and_read_only():
    scaling = Scaling(np.zeros((1, 2)), np.ones((1, 2)), np.zeros(0), np.ones(0))
    with pytest.raises(AttributeError):
        scaling.loc = np.ones((1, 2))  # type: ignore[misc]
    with pytest.raises(ValueError):
        scaling.loc[0, 0] = 1.0


def test_non_positive_scale_is_rejected():
    with pytest.raises(DataValidationError, match="positive"):
        Scaling(np.zeros((1, 2)), np.zeros((1, 2)), np.zeros(0), np.ones(0))


def test_subset_keeps_rows_in_order():
    values, mask, ctx = _panel()
    scaling = fit_scaling(values, mask, 3, context=ctx)
    sub = scaling.subset([2, 0])
    np.testing.assert_array_equal(sub.loc, scaling.loc[[2, 0]])
    np.testing.assert_array_equal(sub.context_scale, scaling.context_scale)
