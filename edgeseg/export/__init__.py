"""Export: turn a trained run into deployable artifacts, each in its own folder with a manifest."""
