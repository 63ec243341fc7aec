"""One module per verb. Shared options live in `options`."""
