"""The training loop every trained model kind shares (the paper's protocol, checkpoints, exact resume)."""
