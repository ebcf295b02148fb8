"""FID while a session trains: the averaged generator against the training images every
fid_every epochs, and the session's best epoch so far."""
from metrics import classes, inception, sources


class FidScorer:
    """FID of a generator against the training images. Building one loads the Inception network
    and the real side's statistics, so a run fails at its start, not at its first FID epoch, when
    the weights are missing."""

    def __init__(self, cfg, images, labels=None):
        """labels: a conditional session's, whose class shares the generated images get."""
        self.cfg = cfg
        self.labels = None if labels is None else classes.generated_labels(labels, len(cfg["class_names"]),
                                                                           cfg["fid_num"], cfg["seed"])
        self.extractor = inception.InceptionFeatures(cfg["fid_weights"] or inception.STANDARD)
        print(f"FID every {cfg['fid_every']} epochs on {cfg['fid_num']} images: {self.extractor.description}")
        self.real = sources.real_stats_for_config(cfg, self.extractor, num=cfg["fid_num"], images=images)

    def score(self, generator, epoch, earlier_rows):
        """(FID of this epoch, (FID, epoch) of the best epoch so far, this one included).
        earlier_rows: the session's metrics.csv rows, where the best epoch is read back from, so
        it survives restores."""
        value = sources.fid_of_generator(generator, self.cfg, self.real, self.cfg["fid_num"], self.extractor,
                                         seed=self.cfg["seed"], labels=self.labels)
        scored = [(row["fid"], int(row["epoch"])) for row in earlier_rows if row.get("fid") is not None]
        return value, min(scored + [(value, epoch)])
