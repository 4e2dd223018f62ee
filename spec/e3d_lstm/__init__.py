"""E3D-LSTM (seed 003, google/e3d_lstm): in progress (issue 26). So far the code's own
optimizer, `spec.e3d_lstm.optimizer` (docs/models/e3d_lstm.md)."""
