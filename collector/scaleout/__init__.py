"""Scale-out: several collectors over one consumer group and one store (docs/SCALE-OUT.md)."""
