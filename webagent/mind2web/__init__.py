"""Mind2Web: read the dataset as published, replay it headless through our
ranker and policy, score it as the paper does, and write our own episodes in
its format."""
