"""Data Generator: a desktop window over the training, generation and FID scripts.

    python app.py                                    # sessions under checkpoints/
    python app.py --checkpoint-root runs --session 2
    python app.py --screenshot docs/app.png --session 2   # render the window, save a PNG, exit

The window only runs DCGAN_train.py, generate_img.py and compute_fid.py as subprocesses and
reads the session folders; the modules of desktop/ hold everything that needs no display.
"""
import argparse
import functools
import queue
import signal
import time
import tkinter as tk
import traceback
from pathlib import Path
from tkinter import filedialog, messagebox, ttk

from PIL import Image, ImageGrab, ImageTk

from desktop import REPO
from desktop.commands import (TRAIN_FIELDS, class_choices, default_class_name, fid_command, generate_command,
                              grid_path, prefill, resume_command, save_folder, train_command)
from desktop.images import examples_for, fit_image
from desktop.jobs import ScriptJob, failure_message, parse_fid
from desktop.progress import (STOPPED_CODES, EventTail, describe_progress, fraction_done, progress_from_event,
                              training_outcome)
from desktop.summaries import dataset_label, epoch_grid, epoch_grids, list_sessions, session_folder
from utils import cli
from utils.errors import UserError

WINDOW_SIZE = (1280, 800)
GRID_BOX, LOSSES_BOX, EXAMPLES_BOX = (240, 240), (600, 280), (430, 186)
GENERATE_FIELDS = (("num", "Number of images"), ("seed", "Seed (blank: random)"),
                   ("epoch", "Epoch (blank: newest)"), ("class_name", "Class folder name"))
SESSION_COLUMNS = (("#", 50), ("Data set", 330), ("Image size", 110), ("Epochs trained", 120),
                   ("Newest checkpoint", 140), ("Classes", 70), ("Best FID", 100))


def reported(handler):
    """Button handlers: a UserError becomes a dialog with its message, and the window carries on."""
    @functools.wraps(handler)
    def wrapper(self, *args):
        try:
            return handler(self, *args)
        except UserError as e:
            self.show_error(str(e))
    return wrapper


class App:
    def __init__(self, root, checkpoint_root=cli.DEFAULT_CHECKPOINT_ROOT):
        self.root, self.checkpoint_root = root, Path(checkpoint_root)
        self.scripts_dir = REPO  # tests point this at stand-in scripts
        self.events = queue.Queue()
        self.jobs = {}  # "train", and "tool" (generate or FID): at most one of each at a time
        self.tail = None  # (session number, EventTail) of the running training
        self.selected = None  # the SessionSummary shown, or None for a new session
        self.data_folder = None  # a folder chosen with "Browse data set folder"
        self.grids, self.closing = [], False
        self.panels, self.shown = {}, {}  # image labels by name, and what each shows (for tests)
        self.entries = {}  # the form's entry widgets by key, to switch one off
        self.status, self.progress_text = tk.StringVar(value="Ready."), tk.StringVar(value="No training running.")
        self.fid_text, self.examples_source = tk.StringVar(), tk.StringVar()
        self._build()
        root.protocol("WM_DELETE_WINDOW", self.close)
        root.report_callback_exception = self._unexpected
        self.gen["num"].set("64")
        self.refresh()
        self.select(None)
        self._poll()

    # --- Layout ---------------------------------------------------------------------------------
    def _build(self):
        top = self._frame(self.root, "Sessions", fill="x")
        self.tree = ttk.Treeview(top, columns=[c for c, _ in SESSION_COLUMNS], show="headings", height=4,
                                 selectmode="browse")
        for column, width in SESSION_COLUMNS:
            self.tree.heading(column, text=column)
            self.tree.column(column, width=width, anchor="w")
        self.tree.pack(side="left", fill="x", expand=True)
        self.tree.bind("<<TreeviewSelect>>", lambda _: self._on_tree_select())
        self._buttons(top, ("Refresh", self.refresh), ("New session", lambda: self.select(None)), side="top")

        middle = ttk.Frame(self.root)
        middle.pack(fill="x", padx=6)
        train = self._frame(middle, "Training", side="left")
        self.fields = self._form(train, TRAIN_FIELDS, columns=2)
        self._buttons(train, ("Train", self.train), ("Resume", self.resume), ("Stop", self.stop), row=5)
        self.bar = ttk.Progressbar(train, maximum=1.0)
        self.bar.grid(row=6, column=0, columnspan=4, sticky="ew")
        ttk.Label(train, textvariable=self.progress_text, wraplength=480).grid(row=7, column=0, columnspan=4, sticky="w")

        examples = self._frame(middle, "Data set examples", side="left")
        self._panel(examples, "examples")
        ttk.Label(examples, textvariable=self.examples_source, wraplength=380).pack()
        ttk.Button(examples, text="Browse data set folder", command=self.browse_data).pack(pady=2)

        generate = self._frame(middle, "Generate", side="left")
        self.gen = self._form(generate, GENERATE_FIELDS)
        # A conditional session's class, or all of them; picked from the list, so it is always one of them.
        self.gen["class"] = tk.StringVar()
        ttk.Label(generate, text="Class").grid(row=len(GENERATE_FIELDS), column=0, sticky="w", padx=2)
        self.class_box = ttk.Combobox(generate, textvariable=self.gen["class"], width=14, state="disabled")
        self.class_box.grid(row=len(GENERATE_FIELDS), column=1, sticky="w", pady=1)
        self._buttons(generate, ("Generate", self.generate), ("Save to folder", self.save_to_folder),
                      ("Compute FID", self.compute_fid), row=5)
        ttk.Label(generate, textvariable=self.fid_text, wraplength=300).grid(row=6, column=0, columnspan=2, sticky="w")

        bottom = ttk.Frame(self.root)
        bottom.pack(fill="both", expand=True, padx=6)
        review = self._frame(bottom, "Progress review", side="left")
        self._panel(review, "grid")
        self.slider = tk.Scale(review, orient="horizontal", from_=1, to=1, label="epoch grid", length=GRID_BOX[0],
                               command=lambda value: self._show_epoch(int(value)))
        self.slider.pack()
        self._panel(self._frame(bottom, "Losses", side="left"), "losses")
        self._panel(self._frame(bottom, "Generated / newest training grid", side="left"), "output")
        self.log = tk.Text(self.root, height=2, state="disabled", font="TkFixedFont")
        self.log.pack(fill="x", padx=6)
        ttk.Label(self.root, textvariable=self.status, anchor="w").pack(fill="x", padx=6)

    def _frame(self, parent, title, side="top", fill="both"):
        frame = ttk.LabelFrame(parent, text=title)
        frame.pack(side=side, fill=fill, expand=fill == "both", padx=3, pady=2)
        return frame

    def _panel(self, parent, name):
        self.panels[name] = ttk.Label(parent, anchor="center")
        self.panels[name].pack(fill="both", expand=True)

    def _buttons(self, parent, *buttons, row=None, side="left"):
        frame = ttk.Frame(parent)
        frame.grid(row=row, column=0, columnspan=4, sticky="w", pady=4) if row is not None else frame.pack(side="left")
        for text, command in buttons:
            ttk.Button(frame, text=text, command=command).pack(side=side, fill="x", padx=2, pady=1)

    def _form(self, frame, fields, columns=1):
        """Label and entry pairs in a grid: {key: StringVar}."""
        values = {}
        for i, (key, label) in enumerate(fields):
            row, column = i // columns, (i % columns) * 2
            values[key] = tk.StringVar()
            ttk.Label(frame, text=label).grid(row=row, column=column, sticky="w", padx=2)
            self.entries[key] = ttk.Entry(frame, textvariable=values[key], width=10)
            self.entries[key].grid(row=row, column=column + 1, sticky="w", pady=1)
        return values

    # --- Showing things -------------------------------------------------------------------------
    def show_error(self, message, title="Data Generator"):
        messagebox.showerror(title, message, parent=self.root)

    def _unexpected(self, kind, value, tb):
        """A bug in a handler: shown in a dialog (the traceback goes to stderr); the window stays."""
        traceback.print_exception(kind, value, tb)
        self.show_error(f"Unexpected {kind.__name__}: {value}", title="Data Generator: internal error")

    def show(self, panel, source, box=GRID_BOX):
        """Put an image (a path or a PIL image) into a panel; None or a missing file shows a dash."""
        label = self.panels[panel]
        try:
            image = Image.open(source) if isinstance(source, (str, Path)) else source
            image.load()
        except (OSError, AttributeError):  # AttributeError: None has no load()
            label.configure(image="", text="—")
            self.shown.pop(panel, None)
            return
        label.image = ImageTk.PhotoImage(fit_image(image.convert("RGB"), box))  # Tk keeps no reference
        label.configure(image=label.image, text="")
        self.shown[panel] = source

    def write_log(self, line):
        self.log.configure(state="normal")
        self.log.insert("end", line + "\n")
        self.log.delete("1.0", "end-200l")  # the last 200 lines are enough to read back
        self.log.see("end")
        self.log.configure(state="disabled")

    # --- Sessions -------------------------------------------------------------------------------
    def refresh(self):
        self.summaries = {s.number: s for s in list_sessions(self.checkpoint_root)}
        self.tree.delete(*self.tree.get_children())
        for number, summary in self.summaries.items():
            self.tree.insert("", "end", iid=str(number), values=summary.row())
        if self.selected is not None and self.selected.number in self.summaries:
            self.selected = self.summaries[self.selected.number]
            self.tree.selection_set(str(self.selected.number))

    def _on_tree_select(self):
        chosen = self.tree.selection()
        if chosen and (self.selected is None or int(chosen[0]) != self.selected.number):
            self.select(int(chosen[0]))

    def select(self, number):
        """Show a session; None starts a new one from the defaults (or a browsed folder)."""
        if number is not None and number not in self.summaries:
            raise UserError(f"Session {number} does not exist under {self.checkpoint_root}. "
                            f"Sessions there: {', '.join(map(str, self.summaries)) or 'none'}.")
        self.selected, self.data_folder = self.summaries.get(number), None
        self.tree.selection_set(str(number)) if number is not None else self.tree.selection_remove(*self.tree.selection())
        for key, text in prefill(self.selected).items():
            self.fields[key].set(text)
        cfg = self.selected.cfg if self.selected else None
        self._show_classes(cfg)
        self.fid_text.set("FID: not computed")
        self.show_examples(cfg)
        self.show_review()
        generated = grid_path(self.selected) if self.selected else None
        self.show("output", generated if generated and generated.exists() else (self.grids or [None])[-1])

    def _show_classes(self, cfg):
        """A conditional session picks its class in the list and names its class folders itself; an
        unconditional one is a single class, whose folder name is typed."""
        choices = class_choices(self.selected)
        self.class_box.configure(values=choices, state="readonly" if choices else "disabled")
        self.gen["class"].set(choices[0] if choices else "")
        self.gen["class_name"].set(default_class_name(cfg) if cfg and not choices else "")
        self.entries["class_name"].configure(state="disabled" if choices else "normal")

    def show_examples(self, cfg=None):
        try:
            self.show("examples", Image.fromarray(examples_for(cfg, self.data_folder).squeeze()), EXAMPLES_BOX)
            source = self.data_folder or (dataset_label(cfg) if cfg else "the default data set, fashion_mnist")
            self.examples_source.set(f"From {source}")
        except UserError as e:  # data not on this machine: say so where the pictures would be
            self.show("examples", None)
            self.examples_source.set(str(e))

    def show_review(self):
        self.grids = epoch_grids(self.selected.folder) if self.selected else []
        self.slider.configure(to=max(1, len(self.grids)))
        self.slider.set(len(self.grids) or 1)
        self._show_epoch(len(self.grids))
        self.show("losses", self.selected.folder / "losses.png" if self.selected else None, LOSSES_BOX)

    def _show_epoch(self, index):
        self.show("grid", self.grids[index - 1] if 0 < index <= len(self.grids) else None)

    @reported
    def browse_data(self):
        folder = filedialog.askdirectory(parent=self.root, title="Data set folder (images, or the IDX .gz files)")
        if folder:
            self.select(None)
            self.data_folder = folder
            self.show_examples()

    # --- Running scripts ------------------------------------------------------------------------
    def _start(self, slot, command, on_line, on_done):
        if slot in self.jobs:
            raise UserError("A training is already running: stop it or wait for it." if slot == "train"
                            else "Generation or FID is already running: wait for it to finish.")
        self.write_log("$ " + " ".join(command[1:]))
        self.jobs[slot] = ScriptJob(command, self.events, on_line, on_done)
        self.status.set(f"Running {self.jobs[slot].script} ...")

    def _finish(self, slot, code):
        """(job, its failure message or None); the session list is re-read."""
        job = self.jobs.pop(slot)
        message = failure_message(job.script, code, "".join(job.stderr))
        self.status.set(f"{job.script} finished." if message is None else f"{job.script} ended with exit code {code}.")
        self.refresh()
        return job, message

    def _poll(self):
        self.root.after(100, self._poll)  # first, so a failing callback cannot end the polling
        while not self.events.empty():
            callback, value = self.events.get()
            callback(value)
        if self.tail is not None:
            self._follow(*self.tail)

    @reported
    def train(self):
        number, command = train_command(self._values(self.fields), self.checkpoint_root, self.selected,
                                        self.data_folder, self.scripts_dir)
        self._start_training(number, command)

    @reported
    def resume(self):
        if self.selected is None:
            raise UserError("Select the session to resume in the list first.")
        self._start_training(self.selected.number, resume_command(
            self._values(self.fields), self.checkpoint_root, self.selected, self.scripts_dir))

    def _values(self, form):
        return {key: var.get() for key, var in form.items()}

    def _start_training(self, number, command):
        self.progress_text.set(f"Starting session {number} ...")
        self.bar["value"] = 0
        tail = EventTail(session_folder(self.checkpoint_root, number))
        self._start("train", command, self.write_log, functools.partial(self._train_done, number))
        self.tail = (number, tail)

    def stop(self):
        if "train" in self.jobs:  # the script saves the last completed epoch, then exits with 143
            self.jobs["train"].process.send_signal(signal.SIGTERM)
            self.progress_text.set("Stopping after the current step ...")

    def _follow(self, number, tail):
        """Show the progress records the run appended since the last poll."""
        for record in tail.read():
            progress = progress_from_event(record)
            if progress is None:
                continue
            self.progress_text.set(describe_progress(progress))
            self.bar["value"] = fraction_done(progress)
            if progress.kind == "epoch":
                self.refresh()
                self.show("output", epoch_grid(self.checkpoint_root, number, progress.epoch))
                if self.selected is not None and self.selected.number == number:
                    self.show_review()

    def _train_done(self, number, code):
        _, tail = self.tail
        self._follow(number, tail)  # the records written after the last poll
        self.tail = None
        job, message = self._finish("train", code)
        self.progress_text.set(training_outcome(code, message, tail.seen))
        if self.closing:
            return self.root.destroy()
        if message and code not in STOPPED_CODES:
            self.show_error(message, title="Training failed")
        if self.selected is None and number in self.summaries:
            self.select(number)  # the new session the form started
        elif self.selected is not None and self.selected.number == number:
            self.show_review()

    def _session(self):
        if self.selected is None:
            raise UserError("Select a trained session in the list first.")
        return self.selected

    def _generate_command(self, out_dir=None):
        summary, values = self._session(), self._values(self.gen)
        return summary, generate_command(self.checkpoint_root, summary, values["num"], values["seed"],
                                         values["epoch"], out_dir, values["class"], self.scripts_dir)

    @reported
    def generate(self, out_dir=None):
        summary, command = self._generate_command(out_dir)
        self._start("tool", command, self.write_log, functools.partial(self._generate_done, summary))

    @reported
    def save_to_folder(self):
        summary, name = self._session(), self.gen["class_name"].get()
        self._generate_command(save_folder(summary, ".", name))  # refused before the folder dialog opens
        title = ("Folder that gets a folder per class" if summary.class_names
                 else f"Folder that gets the class folder '{name.strip()}'")
        folder = filedialog.askdirectory(parent=self.root, title=title)
        if folder:
            self.generate(save_folder(summary, folder, name))

    def _generate_done(self, summary, code):
        _, message = self._finish("tool", code)
        if message:
            return self.show_error(message, title="Generation failed")
        self.show("output", grid_path(summary))

    @reported
    def compute_fid(self):
        command = fid_command(self.checkpoint_root, self._session(), self.scripts_dir)
        self.fid_text.set("FID: computing ...")
        self._start("tool", command, self.write_log, self._fid_done)

    def _fid_done(self, code):
        job, message = self._finish("tool", code)
        value = parse_fid("".join(job.stdout))
        self.fid_text.set(f"FID: {value:.4g}" if message is None and value is not None else "FID: failed")
        if message:
            self.show_error(message, title="FID failed")

    def close(self):
        """Closing during training stops it first: killing it, or its pipe, could lose the epoch."""
        for job in self.jobs.values():
            job.process.send_signal(signal.SIGTERM)
        if "train" in self.jobs:
            self.closing = True
            self.progress_text.set("Stopping the training before closing ...")
        else:
            self.root.destroy()

    def screenshot(self, path):
        """Save the window as a PNG: its area of the X screen, grabbed once everything is drawn."""
        self.root.update()
        x, y = self.root.winfo_rootx(), self.root.winfo_rooty()
        image = ImageGrab.grab(bbox=(x, y, x + self.root.winfo_width(), y + self.root.winfo_height()),
                               xdisplay=self.root.winfo_screen())
        image.save(path)
        print(f"Saved a {image.width}x{image.height} screenshot of the window to {path}")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_checkpoint_root(parser)
    parser.add_argument("--session", metavar="N", help="select session N when the window opens")
    parser.add_argument("--screenshot", metavar="FILE", help="render the window, save it as a PNG and exit")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    session = None if args.session is None else cli.parse_count(args.session, "--session")
    try:
        root = tk.Tk(className="DataGenerator")
    except tk.TclError as e:
        raise UserError(f"Cannot open a window ({e}). Run it on a desktop, or under a virtual display: "
                        "xvfb-run python app.py ...") from None
    root.title("Data Generator")
    root.geometry("{}x{}".format(*WINDOW_SIZE))
    try:
        app = App(root, args.checkpoint_root)
        if session is not None:
            app.select(session)
    except UserError:
        root.destroy()
        raise
    if args.screenshot:  # outside the event loop, so a failure ends the program instead of opening a dialog
        root.wait_visibility()
        for _ in range(25):  # half a second of drawing
            root.update()
            time.sleep(0.02)
        app.screenshot(args.screenshot)
        root.destroy()
        return 0
    root.mainloop()
    return 0


if __name__ == "__main__":
    cli.run(main)
