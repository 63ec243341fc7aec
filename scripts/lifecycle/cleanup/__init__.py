"""Out-of-date images, retiring, and deleting old images from the registry."""
