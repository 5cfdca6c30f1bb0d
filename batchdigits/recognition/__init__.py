"""Recognising: the canonical glyph, segmentation of numbers, the classifier, and the worker that turns a file into candidate digits."""
