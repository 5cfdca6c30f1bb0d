"""batchdigits: read handwritten digits in a folder of images and report what each one says."""

__version__ = "0.1.0"
