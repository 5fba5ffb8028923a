from django.apps import AppConfig


class BooksConfig(AppConfig):
    name = "webagent.sites.library.books"
    label = "library"
    verbose_name = "Library"
