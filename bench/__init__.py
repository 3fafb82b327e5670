"""`make bench`: performance figures measured as ratios against a baseline started in the same run."""
