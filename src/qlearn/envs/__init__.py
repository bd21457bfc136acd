"""Worlds: grid maps from text, special worlds, Gymnasium's toy_text tables read as finite
MDPs, the registry of names, and the Gymnasium adapters both ways."""
