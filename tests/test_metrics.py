import numpy as np
import pytest

from edgeseg.metrics import Counts, confusion, per_image, summarize

A = np.array([[1, 0], [0, 1]])
B = np.array([[1, 0], [1, 1]])


def test_hand_computed_two_by_two():
    c = confusion(B, A)  # pred=B, true=A: tp=2, fp=1, fn=0, tn=1
    assert (c.tp[0], c.fp[0], c.fn[0], c.tn[0]) == (2, 1, 0, 1)
    m = per_image(c)
    assert m["iou"][0] == pytest.approx(2 / 3)
    assert m["dice"][0] == pytest.approx(0.8)
    assert m["precision"][0] == pytest.approx(2 / 3)
    assert m["sensitivity"][0] == pytest.approx(1.0)
    assert m["specificity"][0] == pytest.approx(0.5)
    assert m["pixel_accuracy"][0] == pytest.approx(0.75)
    assert m["mean_iou"][0] == pytest.approx((2 / 3 + 1 / 2) / 2)  # background IoU = 1/2
    # 2/3 is above the 0.65 ISIC cut-off, so thresholded Jaccard keeps it.
    assert m["thresholded_jaccard"][0] == pytest.approx(2 / 3)


def test_thresholded_jaccard_zeroes_below_cutoff():
    true = np.array([[1, 1], [1, 0]])
    pred = np.array([[1, 1], [0, 1]])  # tp=2 fp=1 fn=1 -> J = 0.5
    m = per_image(confusion(pred, true))
    assert m["iou"][0] == pytest.approx(0.5)
    assert m["thresholded_jaccard"][0] == 0.0


def test_empty_mask_policy():
    empty = np.zeros((2, 2), int)
    both_empty = per_image(confusion(empty, empty))
    assert both_empty["dice"][0] == 1.0 and both_empty["iou"][0] == 1.0
    assert both_empty["sensitivity"][0] == 1.0 and both_empty["precision"][0] == 1.0
    false_alarm = per_image(confusion(np.array([[1, 0], [0, 0]]), empty))
    assert false_alarm["dice"][0] == 0.0 and false_alarm["iou"][0] == 0.0
    assert false_alarm["specificity"][0] == pytest.approx(0.75)
    missed = per_image(confusion(empty, A))
    assert missed["dice"][0] == 0.0 and missed["sensitivity"][0] == 0.0


def test_mean_over_images_differs_from_pooled():
    # Image 1: a large lesion found perfectly. Image 2: a 1-pixel lesion missed entirely.
    true = np.zeros((2, 4, 4), int)
    true[0, :3, :3] = 1
    true[1, 0, 0] = 1
    pred = np.zeros_like(true)
    pred[0, :3, :3] = 1
    s = summarize(confusion(pred, true))
    assert s.n_images == 2
    assert s.mean["dice"] == pytest.approx(0.5)  # (1 + 0) / 2
    assert s.pooled["dice"] == pytest.approx(18 / 19)  # 2*9 / (2*9 + 0 + 1)
    assert "thresholded_jaccard" not in s.pooled


def test_batch_and_channel_axes_and_shape_check():
    c = confusion(np.stack([B, A])[..., None], np.stack([A, A])[..., None])
    assert list(c.tp) == [2, 2] and list(c.fp) == [1, 0]
    with pytest.raises(ValueError):
        confusion(np.zeros((2, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError):
        summarize(Counts.empty())


def test_keras_wrapper_matches_numpy_core():
    from edgeseg._keras import tf
    from edgeseg.metrics import MeanImageMetric

    rng = np.random.default_rng(0)
    true = (rng.random((3, 8, 8, 1)) > 0.6).astype(np.float32)
    true[2] = 0  # one empty mask: the policy must agree too
    prob = rng.random((3, 8, 8, 1)).astype(np.float32)
    core = per_image(confusion(prob > 0.5, true > 0.5))
    for name in ("dice", "iou", "sensitivity"):
        m = MeanImageMetric(name)
        m.update_state(tf.constant(true[:2]), tf.constant(prob[:2]))  # accumulates across batches
        m.update_state(tf.constant(true[2:]), tf.constant(prob[2:]))
        assert float(m.result()) == pytest.approx(float(np.mean(core[name])), abs=1e-6)
        m.reset_state()
        assert float(m.result()) == 0.0
