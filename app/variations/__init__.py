"""The Variations page: one photo translated by a multi-domain model (DeepI2I; MUNIT/HIT next) into many
targets by seeds, in a streaming grid; picks kept as feathered layers pasted back into the photo."""
