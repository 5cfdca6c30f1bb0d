"""Output: results files, the HTML report, scores, evaluation and comparison with a baseline."""
