"""Where things go by default (stdlib only, so any module may import it cheaply)."""

DEFAULT_DATASET = "data/generated/moving-objects"
