"""The admin's persistence: SQLAlchemy Core tables and engine setup."""
