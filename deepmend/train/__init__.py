"""Training of the DeepMEND student network (``deepmend train``)."""
