"""Images of parts: decoding and checking, heatmaps, and the networks of the vision task families."""
