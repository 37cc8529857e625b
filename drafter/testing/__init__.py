"""Test and benchmark support that ships with the package (a fake OpenAI-compatible server)."""
