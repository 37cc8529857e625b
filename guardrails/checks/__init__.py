"""One module per check. Each exposes a pure function `(ctx, **thresholds) -> list[Finding]`."""
