"""The `library` Django project: books and authors managed in the Django admin."""
