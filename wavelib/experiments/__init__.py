"""Each chapter's heavy work as plain functions that run without Jupyter (one module per chapter)."""
