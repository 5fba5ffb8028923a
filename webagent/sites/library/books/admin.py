from django.contrib import admin

from .models import Author, Book


@admin.register(Book)
class BookAdmin(admin.ModelAdmin):
    list_display = ("title", "author", "year", "isbn", "genre")
    list_filter = ("genre", "in_stock")
    search_fields = ("title", "author__name")
    list_per_page = 100


@admin.register(Author)
class AuthorAdmin(admin.ModelAdmin):
    search_fields = ("name",)
