"""losses.png: whole-epoch ticks on every panel, and the r_t / augment p panel only when r_t was recorded;
the overfitting warning of the epoch summary; progress.gif's frames and how often the two are rewritten."""
import imageio.v3 as iio
import numpy as np
import pytest

from training import progress


def rows(epochs=3, r_t=True, fid_at=None):
    """metrics.csv rows as SessionProgress.rows() reads them: blank cells are None."""
    return [{"epoch": float(e), "g_loss": 0.7 + 0.1 * e, "d_loss": 1.4 - 0.1 * e, "d_acc_real": 0.5, "d_acc_fake": 0.6,
             "r_t": 0.2 * e if r_t else None, "seconds": 1.0, "images_per_sec": 8.0,
             "fid": 40.0 / e if e == fid_at else None, "augment_p": 0.1 * e if r_t else None}
            for e in range(1, epochs + 1)]


def visible_ticks(ax):
    low, high = ax.get_xlim()
    return [t for t in ax.get_xticks() if low <= t <= high]


def test_three_epochs_are_ticked_1_2_3_on_every_panel(tmp_path):
    path = tmp_path / "losses.png"
    progress._plot(rows(fid_at=2), path)
    assert iio.improps(path).shape[:2] == (400, 2100)  # four panels, 5 inches each and one more, at 100 dpi
    figure = progress.plot_figure(rows(fid_at=2))
    assert [ax.get_title() for ax in figure.axes] == ["Losses", "Discriminator accuracy", "FID",
                                                      "Overfitting signal r_t and augment p"]
    # Without an integer locator matplotlib ticks 1.0, 1.25, 1.5, ... for three epochs; the FID
    # panel, one epoch wide, 1.9, 1.95, ...
    assert [visible_ticks(ax) for ax in figure.axes] == [[1, 2, 3], [1, 2, 3], [2], [1, 2, 3]]


def test_a_one_epoch_run_is_ticked_1():
    figure = progress.plot_figure(rows(epochs=1, fid_at=1))
    assert [visible_ticks(ax) for ax in figure.axes] == [[1]] * 4


def test_the_overfitting_panel_shows_r_t_and_augment_p_on_0_to_1():
    figure = progress.plot_figure(rows())
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == ["Losses", "Discriminator accuracy", "Overfitting signal r_t and augment p"]
    overfit = figure.axes[2]
    assert overfit.get_ylim() == (0, 1)
    lines = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in overfit.get_lines()}
    assert lines == {"r_t": ([1, 2, 3], pytest.approx([0.2, 0.4, 0.6])),
                     "augment p": ([1, 2, 3], pytest.approx([0.1, 0.2, 0.3]))}


def test_rows_without_r_t_keep_the_two_panels_and_a_fid_third():
    assert [ax.get_title() for ax in progress.plot_figure(rows(r_t=False)).axes] == ["Losses", "Discriminator accuracy"]
    with_fid = rows(r_t=False, fid_at=3)
    assert [ax.get_title() for ax in progress.plot_figure(with_fid).axes] == ["Losses", "Discriminator accuracy", "FID"]


def test_r_t_recorded_on_some_epochs_only_is_drawn_where_it_was():
    mixed = rows()
    mixed[0]["r_t"] = mixed[0]["augment_p"] = None  # a session begun before r_t was recorded
    overfit = progress.plot_figure(mixed).axes[2]
    assert [list(line.get_xdata()) for line in overfit.get_lines()] == [[2, 3], [2, 3]]


def test_the_overfitting_warning_needs_r_t_to_average_0_9_over_the_last_500_steps():
    # A 1,000-image run's start: D beats a generator that draws noise for its first 45 steps.
    assert progress.overfitting_warning([(0.90, 15), (0.92, 15), (0.91, 15)]) is None
    memorised = [(0.95, 15)] * 34  # 510 steps
    warning = progress.overfitting_warning(memorised)
    assert warning.startswith("warning: r_t averaged 0.95 over the last 510 steps") and "augment_p=auto" in warning
    assert progress.overfitting_warning(memorised[:33]) is None  # 495 steps
    assert progress.overfitting_warning(memorised + [(0.6, 15)]) is not None  # one low epoch is noise
    assert progress.overfitting_warning(memorised + [(0.6, 15)] * 10) is None  # (360 * 0.95 + 150 * 0.6) / 510 = 0.85
    assert progress.overfitting_warning([(0.5, 938), (0.93, 938)]) is not None  # one full Fashion-MNIST epoch
    assert progress.overfitting_warning([(0.93, 938), (0.5, 938)]) is None


def test_the_overfitting_warning_sees_a_memorised_set_through_the_scatter_of_short_epochs():
    # How a memorised 1,000-image set looks: 15-step epochs whose r_t scatters around 0.9; some
    # epoch in every 500 steps is below 0.9, so a rule that each one be above the line never fires.
    scattered = [(0.98, 15), (0.84, 15), (0.93, 15)] * 12
    assert min(r_t for r_t, _ in scattered) < progress.OVERFIT_SIGNAL
    assert progress.overfitting_warning(scattered).startswith("warning: r_t averaged 0.92 over the last 510 steps")


def test_each_epoch_is_dotted_up_to_100_epochs_and_a_longer_run_is_a_plain_line():
    def markers(figure):
        return {line.get_marker() for ax in figure.axes for line in ax.get_lines()}
    assert markers(progress.plot_figure(rows(epochs=progress.DOTTED_EPOCHS))) == {"."}
    # 1,000 images make 15-step epochs: a thousand dots per curve would merge into a band.
    assert markers(progress.plot_figure(rows(epochs=progress.DOTTED_EPOCHS + 1))) == {"None"}


def session_with_grids(folder, epochs):
    """A session folder with an epoch grid per epoch, each a flat grey of its epoch number, and metrics.csv."""
    session = progress.SessionProgress(folder)
    session.images_dir.mkdir(parents=True)
    for epoch in range(1, epochs + 1):
        iio.imwrite(session.epoch_image(epoch), np.full((8, 8, 3), epoch, np.uint8))
    session._write_rows(rows(epochs))
    return session


def test_the_gif_shows_at_most_gif_frames_grids_spread_from_the_first_to_the_newest(tmp_path):
    epochs = 3 * (progress.GIF_FRAMES - 1) + 1  # every third grid fits exactly
    session = session_with_grids(tmp_path / "long", epochs)
    assert session.write_summaries()
    frames = iio.imread(session.gif_path, index=None)
    shown = [int(frame[0, 0, 0]) for frame in frames]  # each frame's grey is its epoch
    assert len(shown) == progress.GIF_FRAMES and shown[0] == 1 and shown[-1] == epochs
    assert np.all(np.diff(shown) == 3)  # evenly spread
    short = session_with_grids(tmp_path / "short", 4)
    assert short.write_summaries() and len(iio.imread(short.gif_path, index=None)) == 4  # every grid


def test_throttled_summaries_wait_until_their_cost_is_the_share_of_the_time_since_and_unthrottled_ones_do_not(
        tmp_path, monkeypatch):
    session = session_with_grids(tmp_path / "s", 3)
    assert session.write_summaries(throttled=True)  # the first is always written
    iio.imwrite(session.epoch_image(4), np.full((8, 8, 3), 4, np.uint8))
    # Shares at the extremes, so that no pause of a loaded machine between two calls decides the test.
    monkeypatch.setattr(progress, "SUMMARY_SHARE", 1e-9)  # no time since the last write is enough
    assert not session.write_summaries(throttled=True)
    assert len(iio.imread(session.gif_path, index=None)) == 3
    monkeypatch.setattr(progress, "SUMMARY_SHARE", 1e9)  # any time since the last write is enough
    assert session.write_summaries(throttled=True) and len(iio.imread(session.gif_path, index=None)) == 4
    monkeypatch.setattr(progress, "SUMMARY_SHARE", 1e-9)
    iio.imwrite(session.epoch_image(5), np.full((8, 8, 3), 5, np.uint8))
    assert session.write_summaries() and len(iio.imread(session.gif_path, index=None)) == 5
