from django.db import models

GENRES = [(g, g) for g in ("Fiction", "History", "Science", "Poetry", "Travel")]


class Author(models.Model):
    name = models.CharField(max_length=100, unique=True)

    class Meta:
        app_label = "library"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Book(models.Model):
    title = models.CharField(max_length=200)
    author = models.ForeignKey(Author, on_delete=models.PROTECT)
    year = models.IntegerField()
    isbn = models.CharField("ISBN", max_length=13, blank=True)
    genre = models.CharField(max_length=20, choices=GENRES, blank=True)
    in_stock = models.BooleanField(default=True)

    class Meta:
        app_label = "library"
        ordering = ["pk"]  # no shown column is sorted by default: a header's first click sorts it ascending

    def __str__(self) -> str:
        return self.title
