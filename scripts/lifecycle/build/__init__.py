"""Building and publishing images: engine, publish, labels, image-info, the build matrix."""
