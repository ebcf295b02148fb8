"""Sample-quality metrics: FID/KID math (fid), Inception features (inception) and the image sets
they compare with their statistics cache (sources)."""
