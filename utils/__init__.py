"""The bottom layer every other package may use: the user-facing error type, atomic file writes,
image grids, the terminal progress report and the scripts' shared command-line pieces."""
