"""Constraints shared by every free-text field of the API."""

NO_NUL = r"^[^\x00]*$"
"""No NUL characters: Postgres cannot store them in text, and an encrypted field would carry one to every reader."""
