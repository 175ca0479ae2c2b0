"""One module per config group (``conf/<group>/`` ↔ ``schemas/<group>.py``): its typed dataclasses,
the values each key takes and the checks no type expresses, all before TensorFlow."""
