"""Writing a session's generated images to disk (writer)."""
