"""``prouie quickstart``: both papers end to end on an embedded corpus and a tiny local model."""
