"""Training sessions: the config, the session folder, the checkpointed state, the epoch loop and
what a run records. Modules are imported by name (`from training import plan`); only state,
checkpoints, stopping and loop load TensorFlow, so the app can check a form and list sessions without it."""
