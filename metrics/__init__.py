"""Sample-quality metrics: FID/KID math (fid), Inception features (inception) and the image sets
they compare with their statistics cache (sources), as compute_fid.py's real and fake sides (sides),
precision/recall/density/coverage (prdc), nearest training images of generated ones (copies), the
classes of a conditional session's generated images and the FID within each class (classes), FID
while a session trains (training_fid), the classifier trained with generated images
(usefulness) and its scores on an imbalanced training set (imbalance)."""
