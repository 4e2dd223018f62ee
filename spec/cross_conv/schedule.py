"""The seed's learning-rate schedule: tf.maximum(0.01, exponential_decay(0.8, step, 10000, 0.5))."""

LEARNING_RATE = 0.8
DECAY_STEPS = 10000
DECAY_RATE = 0.5
MIN_LEARNING_RATE = 0.01


def learning_rate(step: int) -> float:
    """Continuous (not staircase) decay from 0.8, halving every 10,000 steps, floored at 0.01.

    `step` is the global step before the update (0 for the first one).
    """
    return max(MIN_LEARNING_RATE, LEARNING_RATE * DECAY_RATE ** (step / DECAY_STEPS))
