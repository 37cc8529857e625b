"""Template administration: versions of template sets in the database, labels, validation, preview, the eval
gate, publishing, rollback and per-version outcomes (issue 8)."""
