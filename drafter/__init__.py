"""drafter: empathetic, safe reply drafts for clinician approval."""

__version__ = "0.1.0"
