"""Learning: training sets, augmentation, synthetic digits, training and tuning the classifier."""
