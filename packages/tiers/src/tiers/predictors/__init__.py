"""What `tiers predict` does per application: read the inputs, predict, print one line per input and write the
result picture where the application has one. Each module has `predict(learn, inputs, out) -> list[dict]`."""

__all__: list[str] = []
