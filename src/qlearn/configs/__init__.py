"""Typed, frozen, validated configurations of training runs, and how a config file and
command-line flags merge into one. Validated once, at the edge; nothing downstream
mutates them."""
