"""The keys of the parity harness's sections: the verdict's vocabulary (`parity.verdict`),
kept here below `parity` so that a pair's pitfall catalogue can name them."""

FORWARD_E2E_INFERENCE = "forward/end-to-end/inference"
FORWARD_E2E_TRAINING = "forward/end-to-end/training"
FORWARD_ISO_INFERENCE = "forward/isolated/inference"
FORWARD_ISO_TRAINING = "forward/isolated/training"
MOVING_STATISTICS = "moving_statistics"
BACKWARD_ISOLATED = "backward/isolated"
GRADIENTS = "gradients"
INPUT_GRADIENT = "input_gradient"
TRAINING_LOSSES = "training_losses"
AFTER_TRAINING = "after_training"
INITIALISATION = "initialisation"
